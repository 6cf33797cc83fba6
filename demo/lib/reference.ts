/**
 * What the kernel lab checks the GPU against: seeded inputs and float64 CPU references, written
 * for clarity. Large problems are checked on a sample of outputs so the check stays quick.
 */

/** mulberry32: the same seed gives the same inputs on every device. */
export function seededNormal(n: number, seed: number, std = 1): Float32Array {
  let state = seed >>> 0;
  const next = () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

export interface Check {
  /** Outputs compared. */
  checked: number;
  /** Of how many. */
  total: number;
  maxAbsError: number;
  ok: boolean;
}

/**
 * Compare `got` with `want(i)` at every index (or at `sample` evenly spread ones when there are
 * more than `limit`), with |got − want| ≤ abs + rel·|want| as the pass rule.
 */
export function check(got: ArrayLike<number>, want: (i: number) => number, tolerance: { abs: number; rel: number }, limit = 1 << 16): Check {
  const total = got.length;
  const step = total > limit ? Math.ceil(total / limit) : 1;
  let maxAbsError = 0, ok = true, checked = 0;
  for (let i = 0; i < total; i += step) {
    const w = want(i), g = got[i]!;
    const error = Math.abs(g - w);
    if (!(error <= tolerance.abs + tolerance.rel * Math.abs(w))) ok = false; // NaN fails too
    if (!(error <= maxAbsError)) maxAbsError = error;
    checked++;
  }
  return { checked, total, maxAbsError, ok };
}

/** c[m, n] = Σ_k a[m, k] · b[k, n] in float64 (one element). */
export function matmulAt(a: Float32Array, b: Float32Array, N: number, K: number, i: number): number {
  const m = Math.floor(i / N), n = i % N;
  let sum = 0;
  for (let k = 0; k < K; k++) sum += a[m * K + k]! * b[k * N + n]!;
  return sum;
}

/** One output row of causal (or full) softmax attention, [T, H·D] layout, in float64. */
export function attentionRow(q: Float32Array, k: Float32Array, v: Float32Array, T: number, H: number, D: number, causal: boolean, t: number, head: number): Float64Array {
  const row = new Float64Array(D);
  const keys = causal ? t + 1 : T;
  const scores = new Float64Array(keys);
  let max = -Infinity;
  for (let j = 0; j < keys; j++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += q[(t * H + head) * D + d]! * k[(j * H + head) * D + d]!;
    scores[j] = s / Math.sqrt(D);
    max = Math.max(max, scores[j]!);
  }
  let sum = 0;
  for (let j = 0; j < keys; j++) sum += (scores[j] = Math.exp(scores[j]! - max));
  for (let j = 0; j < keys; j++) {
    for (let d = 0; d < D; d++) row[d] += (scores[j]! / sum) * v[(j * H + head) * D + d]!;
  }
  return row;
}

/** LayerNorm of one row (two passes: mean, then variance of the deviations), in float64. */
export function layerNormRow(x: Float32Array, weight: Float32Array, bias: Float32Array, D: number, r: number, eps: number): Float64Array {
  let mean = 0;
  for (let j = 0; j < D; j++) mean += x[r * D + j]!;
  mean /= D;
  let variance = 0;
  for (let j = 0; j < D; j++) variance += (x[r * D + j]! - mean) ** 2;
  variance /= D;
  const inv = 1 / Math.sqrt(variance + eps);
  return Float64Array.from({ length: D }, (_, j) => (x[r * D + j]! - mean) * inv * weight[j]! + bias[j]!);
}
