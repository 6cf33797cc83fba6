/**
 * `tessera translate`: translate with a Marian (OPUS-MT) model.
 *
 *   tessera translate "A man rides a bicycle."                  the shipped multi30k-marian (English → German)
 *   tessera translate --model DIR "Ein Hund läuft."             another Marian model
 *   tessera translate --model DIR --ids 5,9,2 --json            prints {"ids": [...], "text": "..."}
 *   tessera translate --model DIR --input in.jsonl --output out.jsonl
 *
 * Several texts on the command line are translated together, one line each. `ids` in the output
 * are the generated ids without the decoder start token, up to and with EOS; `text` is present
 * when the model folder has a tokenizer (source.spm, target.spm, vocab.json). In batch mode the
 * sources are batched together on the GPU and the results are written in input order.
 *
 * The search settings default to the model's generation config, read as Hugging Face reads it
 * (generation_config.json when the folder has one, else config.json's keys); each flag overrides
 * its key, as a keyword argument of HF's generate() does.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { LimitError, ShapeError } from '../device/errors.ts';
import { createDevice } from '../device/gpu.ts';
import { MarianModel, type TranslateOptions } from '../models/marian/model.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import type { Command } from './commands.ts';
import { writeStdout } from './model.ts';
import { ProgressBar } from './progress.ts';
import { modelOption, modelPath } from './shipped.ts';

const FROM_CONFIG = "of the model's generation config: generation_config.json, else config.json";

const options: Record<string, OptionSpec> = {
  model: modelOption('translate', 'Marian model folder (config.json + model.safetensors, and source.spm, target.spm, vocab.json for text)'),
  beams: { type: 'number', help: `beam search width; 1 = greedy (default: num_beams ${FROM_CONFIG})` },
  'max-new-tokens': { type: 'number', help: `tokens to generate at most, EOS included (default: max_new_tokens, else max_length − 1, ${FROM_CONFIG})` },
  'min-new-tokens': { type: 'number', help: `EOS is banned before this many tokens (default: min_new_tokens, else min_length − 1, ${FROM_CONFIG})` },
  'length-penalty': { type: 'number', help: `beam scores are divided by length^p (default: length_penalty ${FROM_CONFIG})` },
  'early-stopping': { type: 'string', help: `when beam search stops: true, false or never (default: early_stopping ${FROM_CONFIG})` },
  'batch-size': { type: 'number', help: 'sources translated together on the GPU', default: 8 },
  ids: { type: 'ids', help: 'the source as token ids (ending with EOS) instead of text' },
  json: { type: 'boolean', help: 'print {"ids": [...], "text": "..."} per input instead of the text' },
  input: { type: 'string', help: 'batch mode: a JSONL file of {"text": "..."} or {"ids": [...]} lines' },
  output: { type: 'string', help: 'batch mode: where to write one {"ids", "text"} line per input line (default stdout)' },
  profile: { type: 'boolean', help: 'print the per-node profile of the first encoder run and decoder step to stderr' },
  help: { type: 'boolean', help: 'show this help' },
};

const SYNOPSIS = '[--model DIR] [options] ("text" ... | --ids 1,2,3 | --input in.jsonl [--output out.jsonl])';

type Source = string | number[];

/** Parses a whole batch file before any model work, so a bad line fails fast, naming its number. */
export function parseTranslateBatch(text: string, file: string): { line: number; source: Source }[] {
  const items: { line: number; source: Source }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const where = `${file} line ${line}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${where}: expected an object like {"text": "..."} or {"ids": [...]}`);
    const record = value as Record<string, unknown>;
    const unknown = Object.keys(record).filter((k) => k !== 'text' && k !== 'ids');
    if (unknown.length > 0) throw new UsageError(`${where}: unknown key "${unknown[0]}" (keys: text, ids)`);
    if ('text' in record && 'ids' in record) throw new UsageError(`${where}: give "text" or "ids", not both`);
    if (typeof record.text === 'string') items.push({ line, source: record.text });
    else if ('text' in record) throw new UsageError(`${where}: "text" must be a string`);
    else if (Array.isArray(record.ids) && record.ids.length > 0 && record.ids.every((id) => Number.isInteger(id) && id >= 0)) items.push({ line, source: record.ids as number[] });
    else if ('ids' in record) throw new UsageError(`${where}: "ids" must be a non-empty array of token ids (integers >= 0)`);
    else throw new UsageError(`${where}: needs "text" or "ids"`);
  });
  return items;
}

function positiveInteger(value: unknown, option: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < min) throw new UsageError(`option '--${option}' needs an integer >= ${min}, got ${value}`);
  return value as number;
}

function earlyStopping(value: unknown): boolean | 'never' | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  if (value === 'never') return 'never';
  throw new UsageError(`option '--early-stopping' needs true, false or never, got '${value}'`);
}

export const translate: Command = {
  summary: 'translate text or token ids with a Marian (OPUS-MT) model (greedy or beam search; --json; batch --input)',
  async run(argv) {
    const { positional, options: o } = parseArgs(argv, options);
    if (o.help) {
      process.stdout.write(usage('translate', SYNOPSIS, options) + '\n');
      return 0;
    }
    const path = modelPath(o.model as string | undefined, 'translate');
    const translateOptions: TranslateOptions = {
      numBeams: positiveInteger(o.beams, 'beams'),
      maxNewTokens: positiveInteger(o['max-new-tokens'], 'max-new-tokens'),
      minNewTokens: positiveInteger(o['min-new-tokens'], 'min-new-tokens', 0),
      earlyStopping: earlyStopping(o['early-stopping']),
      batchSize: positiveInteger(o['batch-size'], 'batch-size'),
    };
    if (o['length-penalty'] !== undefined) translateOptions.lengthPenalty = o['length-penalty'] as number;
    const ids = o.ids as number[] | undefined;
    const input = o.input as string | undefined;
    const given = [positional.length > 0 && 'text', ids && "'--ids'", input !== undefined && "'--input'"].filter(Boolean);
    if (given.length === 0) throw new UsageError(`translate needs text, '--ids' or '--input'\n${usage('translate', SYNOPSIS, options)}`);
    if (given.length > 1) throw new UsageError(`give only one of text, '--ids' and '--input' (got ${given.join(' and ')})`);
    if (ids && ids.length === 0) throw new UsageError("option '--ids' needs at least one token id");
    if (o.output !== undefined && input === undefined) throw new UsageError("option '--output' needs '--input' (batch mode)");
    if (o.json && input !== undefined) throw new UsageError("option '--json' is for command-line inputs; batch mode always writes JSON lines");

    let sources: Source[];
    let lines: number[] | undefined;
    if (input !== undefined) {
      let text: string;
      try {
        text = readFileSync(input, 'utf8');
      } catch (err) {
        throw new UsageError(`option '--input': cannot read '${input}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const batch = parseTranslateBatch(text, input);
      sources = batch.map((b) => b.source);
      lines = batch.map((b) => b.line);
    } else {
      sources = ids ? [ids] : positional;
    }

    const gpu = await createDevice();
    let out = 1; // stdout
    try {
      const model = await MarianModel.load(gpu, path, { profile: o.profile === true });
      try {
        const textAt = sources.findIndex((s) => typeof s === 'string');
        if (textAt >= 0 && !model.tokenizer) {
          throw new UsageError(`model '${path}' has no tokenizer (source.spm, target.spm, vocab.json): give token ids (--ids, or "ids" lines)${lines ? ` (${input} line ${lines[textAt]})` : ''}`);
        }
        if (o.output !== undefined) {
          try {
            out = openSync(o.output as string, 'w');
          } catch (err) {
            throw new UsageError(`option '--output': cannot write '${o.output}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
          }
        }
        const progress = lines ? new ProgressBar(sources.length, 'translate') : null;
        let done = 0;
        let results;
        try {
          results = await model.translate(sources, {
            ...translateOptions,
            onProgress: (n) => {
              progress?.tick(n - done);
              done = n;
            },
          });
        } catch (err) {
          // What only the model knows (its vocabulary, positions, limits) is still the user's input.
          if (err instanceof RangeError || err instanceof ShapeError || err instanceof LimitError) {
            const message = err.message.replace(/^source (\d+)/, (whole, i: string) => (lines ? `${input} line ${lines[Number(i)]}` : whole));
            throw new UsageError(message);
          }
          throw err;
        }
        const records = results.map((r) => JSON.stringify(r.text === undefined ? { ids: r.ids } : { ids: r.ids, text: r.text }));
        if (lines) for (const record of records) writeSync(out, record + '\n');
        else if (o.json) await writeStdout(records.join('\n') + '\n');
        else await writeStdout(results.map((r) => r.text ?? r.ids.join(' ')).join('\n') + '\n');
      } finally {
        if (o.profile) process.stderr.write(model.profileTable() + '\n');
        model.destroy();
      }
    } finally {
      gpu.destroy();
      if (out !== 1) closeSync(out);
    }
    return 0;
  },
};
