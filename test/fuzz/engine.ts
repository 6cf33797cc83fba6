/**
 * The fuzz loop and its oracle. Each case picks a target and mutates one of its seeds with the
 * case's own generator (prng.ts), then runs the loader. The case passes when the loader accepts the
 * input, or refuses it with one of Tessera's typed errors whose message names the file; it is a bug
 * when anything else escapes (TypeError, RangeError, a stack overflow, an allocation failure), when
 * a typed error merely wraps one of those, or when the case takes longer than the hang limit.
 */

import { TesseraError } from '../../src/device/errors.ts';
import { NpyError } from '../../src/runtime/npy.ts';
import { UsageError } from '../../src/cli/args.ts';
import { Rng } from './prng.ts';
import { TARGETS, type Target } from './targets.ts';

/** A case slower than this is a hang. */
export const HANG_MS = 5_000;

/** Engine messages that mean the loader trusted the file: a typed error that wraps one is still a bug. */
const ENGINE_FAILURES = /Maximum call stack|Invalid array length|Invalid typed array length|Array buffer allocation failed|allocation failed|out of memory|Cannot read propert|is not a function|is not iterable|Invalid string length|Offset is outside the bounds/i;

export interface Bug {
  caseIndex: number;
  target: string;
  kind: 'untyped' | 'engine' | 'unnamed' | 'hang';
  message: string;
  stack?: string;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  accepted: number;
  refused: number;
  bugs: Bug[];
  hangs: number;
  slowestMs: number;
  slowestCase: number;
  perTarget: Record<string, { cases: number; accepted: number; refused: number; bugs: number }>;
  peakRssBytes: number;
  seconds: number;
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Run only case `only` (a replay). */
  only?: number;
  /** Only these targets (by name). */
  targets?: readonly string[];
  onProgress?: (done: number, summary: FuzzSummary) => void;
}

function isTyped(error: unknown): error is Error {
  return error instanceof TesseraError || error instanceof NpyError || error instanceof UsageError;
}

/** The target of case `index` (weighted), and its generator. */
export function caseTarget(targets: readonly Target[], seed: number, index: number): { target: Target; rng: Rng } {
  const rng = Rng.forCase(seed, index);
  const total = targets.reduce((n, t) => n + t.weight, 0);
  let pick = rng.float() * total;
  const target = targets.find((t) => (pick -= t.weight) < 0) ?? targets[targets.length - 1]!;
  return { target, rng };
}

/** Check one outcome against the oracle: null when it is fine, else the bug. */
export function judge(target: Target, error: unknown): Omit<Bug, 'caseIndex'> | null {
  if (error === undefined) return null;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : `non-Error thrown: ${String(error)}`;
  const stack = error instanceof Error ? error.stack : undefined;
  if (!isTyped(error)) return { target: target.name, kind: 'untyped', message, stack };
  if (ENGINE_FAILURES.test(error.message)) return { target: target.name, kind: 'engine', message };
  if (!target.fileNames.some((name) => error.message.includes(name))) return { target: target.name, kind: 'unnamed', message };
  return null;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const targets = options.targets ? TARGETS.filter((t) => options.targets!.includes(t.name)) : TARGETS;
  if (targets.length === 0) throw new Error(`no fuzz targets named ${options.targets!.join(', ')} (there are ${TARGETS.map((t) => t.name).join(', ')})`);
  const summary: FuzzSummary = {
    seed: options.seed, cases: 0, accepted: 0, refused: 0, bugs: [], hangs: 0, slowestMs: 0, slowestCase: -1,
    perTarget: Object.fromEntries(targets.map((t) => [t.name, { cases: 0, accepted: 0, refused: 0, bugs: 0 }])), peakRssBytes: 0, seconds: 0,
  };
  const started = performance.now();
  const first = options.only ?? 0;
  const last = options.only !== undefined ? options.only + 1 : options.cases;
  for (let index = first; index < last; index++) {
    const { target, rng } = caseTarget(targets, options.seed, index);
    const stats = summary.perTarget[target.name]!;
    const t0 = performance.now();
    let error: unknown;
    try {
      await target.run(rng);
    } catch (e) {
      error = e ?? new Error('threw undefined');
    }
    const ms = performance.now() - t0;
    summary.cases++;
    stats.cases++;
    if (ms > summary.slowestMs) [summary.slowestMs, summary.slowestCase] = [ms, index];
    let bug = judge(target, error);
    if (!bug && ms > HANG_MS) bug = { target: target.name, kind: 'hang', message: `took ${(ms / 1000).toFixed(1)} s` };
    if (bug) {
      summary.bugs.push({ caseIndex: index, ...bug });
      stats.bugs++;
      if (bug.kind === 'hang') summary.hangs++;
    } else if (error === undefined) {
      summary.accepted++;
      stats.accepted++;
    } else {
      summary.refused++;
      stats.refused++;
    }
    if (index % 256 === 0) {
      summary.peakRssBytes = Math.max(summary.peakRssBytes, process.memoryUsage.rss());
      options.onProgress?.(index, summary);
    }
  }
  summary.peakRssBytes = Math.max(summary.peakRssBytes, process.memoryUsage.rss(), peakRssFromOs());
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** The process's peak resident set (Linux reports it in KiB as ru_maxrss), 0 where unknown. */
function peakRssFromOs(): number {
  return process.resourceUsage().maxRSS * 1024;
}
