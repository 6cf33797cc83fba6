// The naive teaching attention kernel (shaders/teaching/attention_1_naive.wgsl) against float64.
import { teachingAttention } from '../../src/ops/teaching-attention.ts';
import { attentionReference } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, T, H, D]: one row, a partial workgroup, more rows than a workgroup, ViT's fashion shape.
const shapes: [number, number, number, number][] = [[1, 1, 1, 4], [2, 7, 3, 8], [1, 65, 2, 16], [1, 50, 4, 24]];

export const cases: KernelCase[] = shapes.map(([B, T, H, D], i): KernelCase => ({
  name: `teaching_attention/naive/B${B}xT${T}xH${H}xD${D}`,
  tolerance: { abs: 5e-5, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(1500 + i);
    const [qv, kv, vv] = [rng.normal(B * T * H * D), rng.normal(B * T * H * D), rng.normal(B * T * H * D)];
    const [q, k, v] = [qv, kv, vv].map((x) => gpu.upload(x, [B, T, H * D]));
    const out = teachingAttention(gpu, q!, k!, v!, { numHeads: H, headDim: D });
    const got = await out.download();
    [q!, k!, v!, out].forEach((t) => t.destroy());
    const want = attentionReference(qv, kv, vv, { batch: B, tq: T, tk: T, numHeads: H, numKVHeads: H, headDim: D, scale: 1 / Math.sqrt(D), causal: false }).out;
    return { got, want };
  },
}));
