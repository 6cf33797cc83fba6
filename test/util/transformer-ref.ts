/**
 * A float64 CPU forward of a pre-LN Transformer (GPT-2 style blocks), written as plainly as
 * possible, to check graphs built with the builder. Weights use nn.Linear layout [out, in].
 */
export interface BlockWeights {
  ln1: { w: Float32Array; b: Float32Array };
  q: { w: Float32Array; b: Float32Array };
  k: { w: Float32Array; b: Float32Array };
  v: { w: Float32Array; b: Float32Array };
  proj: { w: Float32Array; b: Float32Array };
  ln2: { w: Float32Array; b: Float32Array };
  fc: { w: Float32Array; b: Float32Array };
  out: { w: Float32Array; b: Float32Array };
}

function linear(x: Float64Array, rows: number, inDim: number, outDim: number, w: Float32Array, b: Float32Array): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outDim; o++) {
      let s = b[o]!;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
      y[r * outDim + o] = s;
    }
  return y;
}

function layerNorm(x: Float64Array, rows: number, dim: number, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]!;
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i]! - mean) ** 2;
    variance /= dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i]! - mean) * inv * w[i]! + b[i]!;
  }
  return y;
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** x: [T, D] for one sequence; returns [T, D]. */
export function transformerForward(x: Float32Array, tokens: number, dim: number, heads: number, hidden: number, blocks: BlockWeights[], eps: number): Float64Array {
  let h = Float64Array.from(x);
  const hd = dim / heads;
  for (const blk of blocks) {
    const a = layerNorm(h, tokens, dim, blk.ln1.w, blk.ln1.b, eps);
    const q = linear(a, tokens, dim, dim, blk.q.w, blk.q.b);
    const k = linear(a, tokens, dim, dim, blk.k.w, blk.k.b);
    const v = linear(a, tokens, dim, dim, blk.v.w, blk.v.b);
    const att = new Float64Array(tokens * dim);
    for (let head = 0; head < heads; head++)
      for (let i = 0; i < tokens; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[i * dim + head * hd + d]! * k[j * dim + head * hd + d]!;
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((p, c) => p + c, 0);
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j <= i; j++) s += (e[j]! / z) * v[j * dim + head * hd + d]!;
          att[i * dim + head * hd + d] = s;
        }
      }
    const proj = linear(att, tokens, dim, dim, blk.proj.w, blk.proj.b);
    h = h.map((val, i) => val + proj[i]!);
    const m = layerNorm(h, tokens, dim, blk.ln2.w, blk.ln2.b, eps);
    const f = linear(m, tokens, dim, hidden, blk.fc.w, blk.fc.b).map(geluTanh);
    const o = linear(f, tokens, hidden, dim, blk.out.w, blk.out.b);
    h = h.map((val, i) => val + o[i]!);
  }
  return h;
}
