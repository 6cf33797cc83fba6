/**
 * Choosing a token from one row of logits on the host: the sampling settings of a call, a seeded
 * RNG, argmax, top-k, and the draw from softmax(logits / temperature) with top-p.
 */

import type { GenerationConfig } from '../generation-config.ts';

/** How one generation chooses its tokens: sampling, or greedy decoding. */
export interface SamplingSettings {
  sample: boolean;
  temperature: number;
  /** 0 = all tokens. */
  topK: number;
  topP: number;
}

/**
 * The sampling settings of a call: its options over the generation config `g`. `doSample` decides
 * when given; else a given temperature does (above 0 samples, 0 is greedy), else `g.doSample`. A
 * temperature of 0 is greedy decoding whatever decided to sample.
 */
export function resolveSampling(g: GenerationConfig, o: { doSample?: boolean; temperature?: number; topK?: number; topP?: number }): SamplingSettings {
  const temperature = o.temperature ?? g.temperature;
  const sample = (o.doSample ?? (o.temperature !== undefined ? o.temperature > 0 : g.doSample)) && temperature > 0;
  return { sample, temperature, topK: o.topK ?? g.topK, topP: o.topP ?? g.topP };
}

/** The next token from one row of logits: the argmax, or a draw (top-k on the host). */
export function chooseToken(logits: Float32Array | Float64Array, s: SamplingSettings, random: () => number): number {
  if (!s.sample) return argmaxOf(logits);
  if (s.topK > 0) return sampleLogits(...topKOf(logits, s.topK), s.temperature, s.topP, random);
  return sampleLogits(logits, null, s.temperature, s.topP, random);
}

/** The first index of the largest value. */
function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The k largest values, descending (ties: lower index first), and their indices. */
function topKOf(values: ArrayLike<number>, k: number): [Float64Array, Int32Array] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b).slice(0, k);
  return [Float64Array.from(order, (i) => values[i]!), Int32Array.from(order)];
}

/** A small, fast, seedable generator of uniform floats in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Draw a token from softmax(logits / temperature), restricted to the smallest set of most likely
 * candidates whose probability reaches topP. `ids` names the candidates (top-k from the GPU,
 * sorted by descending logit); null means candidate i is token i.
 */
export function sampleLogits(logits: ArrayLike<number>, ids: ArrayLike<number> | null, temperature: number, topP: number, random: () => number): number {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i] = Math.exp((logits[i]! - max) / temperature);
  let order = Array.from({ length: n }, (_, i) => i);
  if (topP < 1) {
    // Candidates below (1 − topP)/(n − 1) of the mass cannot be in the nucleus (llama2.c's shortcut).
    const cutoff = ((1 - topP) / Math.max(1, n - 1)) * total;
    order = order.filter((i) => probs[i]! >= cutoff).sort((a, b) => probs[b]! - probs[a]! || a - b);
    let mass = 0, keep = order.length;
    for (let k = 0; k < order.length; k++) {
      mass += probs[order[k]!]!;
      if (mass >= topP * total) {
        keep = k + 1;
        break;
      }
    }
    order = order.slice(0, keep);
    total = mass;
  }
  let r = random() * total;
  for (const i of order) {
    r -= probs[i]!;
    if (r < 0) return ids ? ids[i]! : i;
  }
  const last = order[order.length - 1]!; // rounding left r ≥ 0 after the last candidate
  return ids ? ids[last]! : last;
}
