import type { Gpu } from '../device/gpu.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import naiveSource from '../../shaders/teaching/attention_1_naive.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type Named, type OpDef, type TensorSpec } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

/** Query rows per workgroup of the naive kernel. */
const ROWS = 64;

export interface TeachingAttentionAttrs {
  numHeads: number;
  headDim: number;
  /** Default 1/√headDim. */
  scale?: number;
}

function dims(inputs: Named<TensorSpec>, attrs: TeachingAttentionAttrs): [number, number] {
  const q = required('teachingAttention', inputs, 'q');
  for (const name of ['q', 'k', 'v'] as const) {
    const t = required('teachingAttention', inputs, name);
    expectDType('teachingAttention', name, t, 'f32');
    expectRank('teachingAttention', name, t, 3);
    expectShape('teachingAttention', name, t, q.shape);
  }
  if (q.shape[2] !== attrs.numHeads * attrs.headDim) throw new ShapeError(`teachingAttention: rows of ${q.shape[2]}, expected numHeads·headDim = ${attrs.numHeads}·${attrs.headDim}`);
  return q.shape as [number, number];
}

/**
 * Unmasked self-attention with the teaching kernel (shaders/teaching/attention_1_naive.wgsl):
 * q, k, v [B, T, H·D] → out [B, T, H·D]. The production op is attentionOp; bench/teaching.ts
 * times them side by side.
 */
export const teachingAttentionOp: OpDef<TeachingAttentionAttrs> = {
  name: 'teachingAttention',
  infer(inputs, attrs) {
    dims(inputs, attrs);
    return { out: { shape: inputs.q!.shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const [B, T] = dims(inputs, attrs);
    const { numHeads: H, headDim: D } = attrs;
    const kernel = `teaching_attention_naive_d${D}`;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, naiveSource, { HEAD_DIM: D })),
      uniforms: new Uniforms().u32(T).u32(H).u32(H * D).f32(attrs.scale ?? 1 / Math.sqrt(D)).finish(),
      bindings: [slice(inputs.q!), slice(inputs.k!), slice(inputs.v!), slice(outputs.out!)],
      workgroups: [Math.ceil(T / ROWS), H, B],
      flops: 4 * B * H * T * T * D,
      bytes: 16 * B * T * H * D,
    }];
  },
};

export function teachingAttention(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, attrs: TeachingAttentionAttrs): Tensor {
  return runOp(gpu, teachingAttentionOp, { q, k, v }, attrs).out!;
}
