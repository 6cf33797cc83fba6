/**
 * Checking a loaded checkpoint against the tensors a model expects, before any weight reaches the GPU.
 * Model code supplies the expected names and shapes; this file knows nothing about any architecture.
 *
 * Checkpoints from different exporters name the same tensor differently ('h.0.attn.c_attn.weight' vs
 * 'transformer.h.0.attn.c_attn.weight') and carry buffers that are not weights (GPT-2's causal-mask
 * 'attn.bias'), hence `prefixes` and `ignore`.
 */

import { formatShape } from '../device/dtype.ts';
import { CheckpointError } from './errors.ts';

/** A tensor held in host memory, as checkpoint loaders return it. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Anything that has named tensors with shapes and can hand them out as float32 (SafetensorsFile, Llama2cCheckpoint). */
export interface TensorSource {
  readonly source: string;
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  float32(name: string): Float32Array;
}

export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** Absent is fine (e.g. an `lm_head.weight` tied to the embedding). */
  readonly optional?: boolean;
}

export interface CheckpointMatchOptions {
  /** Prefixes a stored name may carry in front of the expected name, tried after the bare name ('transformer.'). */
  readonly prefixes?: readonly string[];
  /** Stored tensors to skip: RegExps, or names where '*' matches any run of characters ('*.attn.masked_bias'). */
  readonly ignore?: readonly (string | RegExp)[];
  /** Do not complain about stored tensors that the model does not use. */
  readonly allowExtra?: boolean;
}

/**
 * The most layers a config.json may claim. Real models have at most a few hundred; the limit stops a
 * corrupt count (1e9) from building a list of a billion expected tensors before any file is read.
 */
export const MAX_LAYERS = 4096;

/** A config's layer count, checked against MAX_LAYERS; `what` names the file and key in the error. */
export function checkLayerCount(layers: number, what: string): number {
  if (layers > MAX_LAYERS) throw new CheckpointError(`${what} = ${layers} is over the limit of ${MAX_LAYERS} layers (corrupt config?)`);
  return layers;
}

/** The most problems listed in one error; the rest are counted. */
const MAX_LISTED = 20;

/**
 * Check `found` (stored name → shape) against `expected`, and return expected name → stored name for
 * every tensor present. Throws one CheckpointError listing every missing, mis-shaped and unexpected
 * tensor, each with the expected and found shapes.
 */
export function matchCheckpoint(
  found: ReadonlyMap<string, readonly number[]>,
  expected: readonly ExpectedTensor[],
  options: CheckpointMatchOptions = {},
  source = 'checkpoint',
): Map<string, string> {
  const prefixes = ['', ...(options.prefixes ?? [])];
  const ignore = (options.ignore ?? []).map(toRegExp);
  const matched = new Map<string, string>();
  const used = new Set<string>();
  const problems: string[] = [];

  for (const want of expected) {
    const stored = prefixes.map((p) => p + want.name).find((n) => found.has(n));
    if (stored === undefined) {
      if (!want.optional) {
        const tried = prefixes.length > 1 ? ` (also tried ${prefixes.slice(1).map((p) => `'${p}${want.name}'`).join(', ')})` : '';
        problems.push(`missing tensor '${want.name}', expected shape ${formatShape(want.shape)}${tried}`);
      }
      continue;
    }
    used.add(stored);
    const shape = found.get(stored)!;
    if (!sameShape(shape, want.shape)) {
      problems.push(`tensor '${stored}' has shape ${formatShape(shape)}, expected ${formatShape(want.shape)}`);
      continue;
    }
    matched.set(want.name, stored);
  }

  if (!options.allowExtra) {
    for (const [name, shape] of found) {
      if (used.has(name) || ignore.some((re) => re.test(name))) continue;
      problems.push(`unexpected tensor '${name}' ${formatShape(shape)} (the model does not use it; pass 'ignore' or 'allowExtra' to skip it)`);
    }
  }

  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED).map((p) => `\n  - ${p}`).join('');
    const more = problems.length > MAX_LISTED ? `\n  ... and ${problems.length - MAX_LISTED} more` : '';
    throw new CheckpointError(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'} with the checkpoint's tensors:${listed}${more}`);
  }
  return matched;
}

/** Validate `file` against `expected` and read every present tensor as float32, keyed by expected name. */
export function loadExpectedTensors(file: TensorSource, expected: readonly ExpectedTensor[], options: CheckpointMatchOptions = {}): Map<string, HostTensor> {
  const matched = matchCheckpoint(file.shapes, expected, options, file.source);
  const tensors = new Map<string, HostTensor>();
  for (const [name, stored] of matched) tensors.set(name, { shape: file.shapes.get(stored)!, data: file.float32(stored) });
  return tensors;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function toRegExp(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  const escaped = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}
