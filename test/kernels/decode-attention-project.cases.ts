// attention from a fused qkv with its output projection (the decode_attention_project row): one decode step of attention (RoPE, cache append, attention over rows
// 0 .. position) and the output projection with its residual, against float64 references.
import { cachedAttention } from '../../src/ops/attention.ts';
import { attentionReference, ropeRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, H, KVH, D, capacity, position, θ (undefined: no RoPE), N]; H = 12 is more heads than invocations.
const shapes: [number, number, number, number, number, number, number | undefined, number][] = [
  [1, 1, 1, 2, 1, 0, 10000, 3],
  [1, 8, 4, 8, 19, 11, 10000, 64],
  [2, 3, 3, 34, 9, 5, undefined, 7],
  [1, 12, 3, 8, 41, 40, 500000, 17],
];

export const cases: KernelCase[] = shapes.map(([B, H, KVH, D, cap, pos, theta, N], i): KernelCase => ({
  name: `decodeAttentionProject/${theta === undefined ? 'plain' : 'rope'}/B${B}xH${H}xKV${KVH}xD${D}xN${N}/cap${cap}@${pos}`,
  tolerance: { abs: 5e-5, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(1230 + i);
    const width = (H + 2 * KVH) * D, kvw = KVH * D;
    const qkvHost = rng.normal(B * width);
    const kHost = rng.normal(B * cap * kvw), vHost = rng.normal(B * cap * kvw);
    const oHost = rng.normal(N * H * D), residualHost = rng.normal(B * N);
    const qkv = gpu.upload(qkvHost, [B, 1, width]);
    const kCache = gpu.upload(kHost, [B, cap, kvw]), vCache = gpu.upload(vHost, [B, cap, kvw]);
    const position = gpu.upload(new Uint32Array([pos]), [1]);
    const o = gpu.upload(oHost, [N, H * D]), residual = gpu.upload(residualHost, [B, 1, N]);
    const out = cachedAttention(gpu, qkv, { position, kCache, vCache }, { numHeads: H, numKVHeads: KVH, headDim: D, theta }, { o, residual });
    const got = Float32Array.from([...(await out.download()), ...(await kCache.download()), ...(await vCache.download())]);
    [qkv, kCache, vCache, position, o, residual, out].forEach((t) => t.destroy());

    const rotate = (x: Float64Array, heads: number) => (theta === undefined ? x : ropeRef(x, 1, heads, D, theta, pos));
    const q = new Float64Array(B * H * D), kAfter = Float64Array.from(kHost), vAfter = Float64Array.from(vHost);
    for (let b = 0; b < B; b++) {
      const row = qkvHost.subarray(b * width, (b + 1) * width);
      q.set(rotate(Float64Array.from(row.subarray(0, H * D)), H), b * H * D);
      kAfter.set(rotate(Float64Array.from(row.subarray(H * D, H * D + kvw)), KVH), (b * cap + pos) * kvw);
      vAfter.set(row.subarray(H * D + kvw), (b * cap + pos) * kvw);
    }
    const attention = attentionReference(q, kAfter, vAfter, { batch: B, tq: 1, tk: cap, numHeads: H, numKVHeads: KVH, headDim: D, scale: 1 / Math.sqrt(D), causal: true, kvLength: pos + 1 }).out;
    const projected = new Float64Array(B * N);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        let sum = residualHost[b * N + n]!;
        for (let k = 0; k < H * D; k++) sum += attention[b * H * D + k]! * oHost[n * H * D + k]!;
        projected[b * N + n] = sum;
      }
    }
    return { got, want: Float64Array.from([...projected, ...kAfter, ...vAfter]) };
  },
}));
