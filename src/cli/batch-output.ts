/**
 * The output file of a batch command (`generate`, `translate`, `classify` with `--input`): one JSON
 * line per input line, in input order.
 *
 * Three promises, so that a long batch can be stopped and picked up again:
 *   - The file is opened before the model loads, so an unwritable `--output` fails at once.
 *   - Each result goes out as one complete line in one write(2), and Ctrl-C (SIGINT) or SIGTERM is
 *     handled between writes: the line being computed is dropped, the file is closed and the process
 *     exits 128 + the signal number (130 for Ctrl-C). The file then holds only whole lines.
 *   - `--resume` keeps the complete lines already there and appends the rest. A last line without
 *     its newline (torn by a crash or SIGKILL, which nothing can catch) is cut away first.
 *
 * Lines are matched to inputs by position: the file's N complete lines are the results of the first
 * N inputs, and work resumes at input N + 1. A command whose lines name their input (classify's
 * "file") checks that too, through `check`.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { UsageError, type OptionSpec } from './args.ts';

export const resumeOption: OptionSpec = {
  type: 'boolean',
  help: "continue an interrupted batch: keep --output's complete lines (the first N lines are the first N inputs' results, matched by count), drop a torn last line, append the rest",
};

export interface BatchOutputOptions {
  /** The file, or undefined for stdout. */
  path: string | undefined;
  resume: boolean;
  /** How many results the whole batch makes. */
  total: number;
  /** Why the existing line `index` (0-based) is not input `index`'s result, or null when it is. */
  check?: (record: unknown, index: number) => string | null;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

export class BatchOutput {
  private written: number;
  private readonly onSignal = (signal: NodeJS.Signals) => this.interrupted(signal);

  private constructor(
    private fd: number,
    private readonly path: string | undefined,
    /** Results already in the file (with --resume): work starts at this input. */
    readonly done: number,
    private readonly total: number,
  ) {
    this.written = done;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Opens (or, with `resume`, reopens) the output; call it before loading the model. */
  static open({ path, resume, total, check }: BatchOutputOptions): BatchOutput {
    if (path === undefined) {
      if (resume) throw new UsageError("option '--resume' needs '--output' (the file to continue)");
      return new BatchOutput(1, undefined, 0, total);
    }
    const cannot = (err: unknown) => new UsageError(`option '--output': cannot write '${path}' (${errno(err)})`);
    if (!resume) {
      // Without --resume an existing file is replaced, as shell redirection would.
      try {
        return new BatchOutput(openSync(path, 'w'), path, 0, total);
      } catch (err) {
        throw cannot(err);
      }
    }
    let fd: number;
    try {
      // Open to read and append: that checks we may write, and creates a missing file.
      fd = openSync(path, 'a+');
    } catch (err) {
      throw cannot(err);
    }
    try {
      const kept = keptLines(readFileSync(fd), path, total, check);
      if (kept.bytes < fstatSync(fd).size) {
        ftruncateSync(fd, kept.bytes);
        process.stderr.write(`tessera: '${path}': dropped a torn last line (no newline)\n`);
      }
      if (kept.lines > 0) process.stderr.write(`tessera: '${path}': resuming after ${kept.lines} of ${total} results\n`);
      return new BatchOutput(fd, path, kept.lines, total);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Writes one finished result as one JSON line, in a single write. */
  write(record: unknown): void {
    const line = Buffer.from(JSON.stringify(record) + '\n');
    // write(2) to a file writes it all; the loop only covers a pipe on stdout taking part of it.
    for (let at = 0; at < line.length; ) at += writeSync(this.fd, line, at);
    this.written++;
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (this.fd !== 1) closeSync(this.fd);
    this.fd = -1;
  }

  /** A signal handler runs between writes, never inside one: every line written so far is whole. */
  private interrupted(signal: NodeJS.Signals): void {
    const where = this.path === undefined ? 'stdout' : `'${this.path}'`;
    this.close();
    const again = this.path === undefined ? '' : '; rerun with --resume to continue';
    process.stderr.write(`\ntessera: ${signal}: ${this.written} of ${this.total} results written to ${where}${again}\n`);
    process.exit(128 + constants.signals[signal]);
  }
}

/**
 * The complete lines at the start of an existing output (those ending in a newline), checked to be
 * results of the first inputs: how many there are and how many bytes they take.
 */
export function keptLines(data: Buffer, path: string, total: number, check?: BatchOutputOptions['check']): { lines: number; bytes: number } {
  const bytes = data.lastIndexOf(0x0a) + 1;
  const text = data.subarray(0, bytes).toString('utf8');
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');
  if (lines.length > total) {
    throw new UsageError(`option '--resume': '${path}' holds ${lines.length} results but the input has ${total}: not this input's output`);
  }
  lines.forEach((raw, i) => {
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      throw new UsageError(`option '--resume': '${path}' line ${i + 1} is not a JSON result line: not an output of this command`);
    }
    const why = check?.(record, i);
    if (why) throw new UsageError(`option '--resume': '${path}' line ${i + 1}: ${why}`);
  });
  return { lines: lines.length, bytes };
}
