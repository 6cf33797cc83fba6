/**
 * Float64 CPU references for the kernel cases. Each function takes plain arrays (row-major)
 * and returns a Float64Array (or number[] for indices), written for clarity, not speed.
 */

/** LayerNorm over rows of length `d`: (x − mean) / sqrt(var + eps) · weight + bias (biased variance). */
export function layerNormRef(x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[r * d + j]!;
    mean /= d;
    let variance = 0;
    for (let j = 0; j < d; j++) variance += (x[r * d + j]! - mean) ** 2;
    variance /= d;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = (x[r * d + j]! - mean) * inv * weight[j]! + bias[j]!;
  }
  return out;
}

/** RMSNorm over rows of length `d`: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNormRef(x: ArrayLike<number>, weight: ArrayLike<number>, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let meanSquare = 0;
    for (let j = 0; j < d; j++) meanSquare += x[r * d + j]! ** 2;
    meanSquare /= d;
    const inv = 1 / Math.sqrt(meanSquare + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j]! * inv * weight[j]!;
  }
  return out;
}

/** Elementwise a + b of equal-length arrays. */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (x, i) => x + b[i]!);
}

/** Softmax over rows of length `d`. */
export function softmaxRef(x: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let max = -Infinity;
    for (let j = 0; j < d; j++) max = Math.max(max, x[r * d + j]!);
    let sum = 0;
    for (let j = 0; j < d; j++) sum += Math.exp(x[r * d + j]! - max);
    for (let j = 0; j < d; j++) out[r * d + j] = Math.exp(x[r * d + j]! - max) / sum;
  }
  return out;
}

/** erf to double precision (Abramowitz–Stegun 7.1.26 is too coarse; this is a Taylor/continued-fraction pair). */
export function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)); converges fast for |x| < 2.5.
    let term = ax, sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc, evaluated backwards (Lentz not needed at this depth).
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export type UnaryFn = 'gelu_tanh' | 'gelu_erf' | 'silu' | 'relu';

/** The activation functions, as PyTorch defines them. */
export function unaryRef(fn: UnaryFn, x: number): number {
  switch (fn) {
    case 'gelu_tanh': return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'gelu_erf': return 0.5 * x * (1 + erfRef(x / Math.SQRT2));
    case 'silu': return x / (1 + Math.exp(-x));
    case 'relu': return Math.max(0, x);
  }
}

/**
 * Token (+ position) embedding: out[n, t] = scale · table[ids[n, t]] + positions[offset + t].
 * Out-of-range ids give a zero token row; out-of-range positions add nothing.
 */
export function embeddingRef(
  ids: ArrayLike<number>, t: number, table: ArrayLike<number>, d: number,
  options: { scale?: number; positions?: ArrayLike<number>; offset?: number } = {},
): Float64Array {
  const vocab = table.length / d, scale = options.scale ?? 1, offset = options.offset ?? 0;
  const out = new Float64Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const row = offset + (i % t);
    for (let j = 0; j < d; j++) {
      let v = id >= 0 && id < vocab ? scale * table[id * d + j]! : 0;
      if (options.positions && row < options.positions.length / d) v += options.positions[row * d + j]!;
      out[i * d + j] = v;
    }
  }
  return out;
}

/** Llama rotary embedding on x [B, T, H·D]: pairs (x[2i], x[2i+1]) of each head turn by (offset + t)·θ^(−2i/D). */
export function ropeRef(x: ArrayLike<number>, t: number, heads: number, headDim: number, theta: number, offset = 0): Float64Array {
  const out = new Float64Array(x.length);
  const width = heads * headDim;
  for (let row = 0; row < x.length / width; row++) {
    const position = offset + (row % t);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < headDim / 2; i++) {
        const angle = position * theta ** ((-2 * i) / headDim);
        const at = row * width + h * headDim + 2 * i;
        const a = x[at]!, b = x[at + 1]!;
        out[at] = a * Math.cos(angle) - b * Math.sin(angle);
        out[at + 1] = a * Math.sin(angle) + b * Math.cos(angle);
      }
    }
  }
  return out;
}

/** Conv2d with stride = kernel = p over NCHW images, as patches: out [B, (H/p)(W/p), D]. */
export function patchEmbedRef(
  image: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>,
  b: number, c: number, h: number, w: number, d: number, p: number,
): Float64Array {
  const rows = h / p, cols = w / p, n = rows * cols;
  const out = new Float64Array(b * n * d);
  for (let bi = 0; bi < b; bi++)
    for (let py = 0; py < rows; py++)
      for (let px = 0; px < cols; px++)
        for (let o = 0; o < d; o++) {
          let acc = bias[o]!;
          for (let ci = 0; ci < c; ci++)
            for (let ky = 0; ky < p; ky++)
              for (let kx = 0; kx < p; kx++) {
                acc += image[((bi * c + ci) * h + py * p + ky) * w + px * p + kx]! * weight[((o * c + ci) * p + ky) * p + kx]!;
              }
          out[(bi * n + py * cols + px) * d + o] = acc;
        }
  return out;
}

/** Index of the largest value of each row of length `v` (the first one on ties). */
export function argmaxRef(x: ArrayLike<number>, v: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / v; r++) {
    let best = 0;
    for (let j = 1; j < v; j++) if (x[r * v + j]! > x[r * v + best]!) best = j;
    out.push(best);
  }
  return out;
}

/** The k largest values of each row and their indices, descending (lower index first on ties). */
export function topKRef(x: ArrayLike<number>, v: number, k: number): { values: number[]; indices: number[] } {
  const values: number[] = [], indices: number[] = [];
  for (let r = 0; r < x.length / v; r++) {
    const order = Array.from({ length: v }, (_, j) => j).sort((i, j) => x[r * v + j]! - x[r * v + i]! || i - j);
    for (const j of order.slice(0, k)) {
      values.push(x[r * v + j]!);
      indices.push(j);
    }
  }
  return { values, indices };
}

/** Shapes and masks of `attentionReference`, mirroring the attention op's attributes and inputs. */
export interface AttentionRefArgs {
  batch: number;
  tq: number;
  tk: number;
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  causal: boolean;
  scale: number;
  /** [batch, tk], 1 = attend, 0 = padding. */
  keyMask?: ArrayLike<number>;
  /** Valid keys of a KV cache of capacity tk. */
  kvLength?: number;
}

/**
 * Multi-head attention softmax(q·kᵀ·scale + mask)·v, q [B, Tq, H·D], k/v [B, Tk, KVH·D]; query
 * head h uses kv head h / (H / KVH). Key j is visible to query i iff j < kvLength, keyMask allows it,
 * and (causal) j <= i + kvLength − Tq. Rows that see no key give 0. Returns `out` [B, Tq, H·D] and
 * `probs` [B, H, Tq, Tk] (masked entries 0).
 */
export function attentionReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  a: AttentionRefArgs,
): { out: Float64Array; probs: Float64Array } {
  const { batch, tq, tk, numHeads, numKVHeads, headDim: D } = a;
  const valid = Math.min(a.kvLength ?? tk, tk);
  const groupSize = numHeads / numKVHeads;
  const out = new Float64Array(batch * tq * numHeads * D);
  const probs = new Float64Array(batch * numHeads * tq * tk);
  const scores = new Float64Array(tk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < numHeads; h++) {
      const kvh = Math.floor(h / groupSize);
      for (let i = 0; i < tq; i++) {
        const qBase = (b * tq + i) * numHeads * D + h * D;
        let max = -Infinity;
        for (let j = 0; j < tk; j++) {
          const visible = j < valid && (!a.keyMask || a.keyMask[b * tk + j] !== 0) && (!a.causal || j <= i + valid - tq);
          if (!visible) {
            scores[j] = -Infinity;
            continue;
          }
          const kBase = (b * tk + j) * numKVHeads * D + kvh * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qBase + d]! * k[kBase + d]!;
          scores[j] = dot * a.scale;
          max = Math.max(max, scores[j]!);
        }
        if (max === -Infinity) continue; // nothing visible: output and probabilities stay 0
        let sum = 0;
        for (let j = 0; j < tk; j++) sum += Math.exp(scores[j]! - max);
        const pBase = ((b * numHeads + h) * tq + i) * tk;
        for (let j = 0; j < tk; j++) {
          const p = Math.exp(scores[j]! - max) / sum;
          probs[pBase + j] = p;
          if (p === 0) continue;
          const vBase = (b * tk + j) * numKVHeads * D + kvh * D;
          for (let d = 0; d < D; d++) out[qBase + d] += p * v[vBase + d]!;
        }
      }
    }
  }
  return { out, probs };
}

/**
 * out[z, m, n] = act(Σ_k a[z, m, k] · b'[z, k, n] + bias[n]) + residual[z, m, n] in float64, b' = b
 * ([K, N]) or bᵀ of b stored [N, K]; a 2-D b (bBatched false) is shared by every batch z.
 */
export function matmulRef(
  a: ArrayLike<number>, b: ArrayLike<number>,
  d: { batch: number; M: number; N: number; K: number; transposeB?: boolean; bBatched?: boolean },
  epilogue: { bias?: ArrayLike<number>; residual?: ArrayLike<number>; activation?: UnaryFn | 'none' } = {},
): Float64Array {
  const { batch, M, N, K } = d;
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const bBase = d.bBatched ? z * K * N : 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += a[(z * M + m) * K + k]! * b[bBase + (d.transposeB ? n * K + k : k * N + n)]!;
        if (epilogue.bias) sum += epilogue.bias[n]!;
        if (epilogue.activation && epilogue.activation !== 'none') sum = unaryRef(epilogue.activation, sum);
        const o = (z * M + m) * N + n;
        if (epilogue.residual) sum += epilogue.residual[o]!;
        out[o] = sum;
      }
    }
  }
  return out;
}
