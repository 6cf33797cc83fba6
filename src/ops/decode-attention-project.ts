import type { Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/decode_attention_project.wgsl';
import { decodeAttentionOp, type DecodeAttentionAttrs } from './decode-attention.ts';
import { expectDType, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

/**
 * One decode step of attention and its output projection, for small models: `qkv` [B, 1,
 * (H + 2·KVH)·D], `o` [N, H·D], `residual` [B, 1, N] → `out` = residual + attention · oᵀ [B, 1, N],
 * with the caches updated as decodeAttentionOp does. One dispatch instead of two; each head walks
 * its keys in one invocation, so it is meant for small models and short contexts, where the
 * dispatch, not the arithmetic, is the cost (llama.ts uses it where it folds norms into fusedMatvecOp).
 */
export const decodeAttentionProjectOp: OpDef<DecodeAttentionAttrs> = {
  name: 'decodeAttentionProject',
  writes: ['kCache', 'vCache'],
  infer(inputs, attrs) {
    const op = 'decodeAttentionProject';
    const attention = decodeAttentionOp.infer(inputs, attrs).out!;
    const o = required(op, inputs, 'o');
    const residual = required(op, inputs, 'residual');
    expectDType(op, 'o', o, 'f32');
    const width = attrs.numHeads * attrs.headDim;
    if (o.shape.length !== 2 || o.shape[1] !== width) throw new ShapeError(`${op}: o ${formatShape(o.shape)} should be [N, ${width}]`);
    const shape = [attention.shape[0]!, 1, o.shape[0]!];
    expectDType(op, 'residual', residual, 'f32');
    expectShape(op, 'residual', residual, shape);
    return { out: { shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const { numHeads, numKVHeads, headDim, theta } = attrs;
    const qkv = inputs.qkv!, kCache = inputs.kCache!, o = inputs.o!;
    const [B] = qkv.shape as [number];
    const [N, width] = o.shape as [number, number];
    if (4 * width > gpu.limits.maxComputeWorkgroupStorageSize) {
      throw new LimitError(`decodeAttentionProject: numHeads·headDim = ${width} floats exceed maxComputeWorkgroupStorageSize (${gpu.limits.maxComputeWorkgroupStorageSize} bytes)`);
    }
    const kernel = `decode_attention_project_d${headDim}_w${width}${theta === undefined ? '' : '_rope'}`;
    const code = specialize(kernel, source, { HEAD_DIM: headDim, ATTN_DIM: width, THREADS: gpu.tuning.decodeAttention.projectThreads, ROPE: theta !== undefined });
    const capacity = kCache.shape[1]!;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms: new Uniforms()
        .u32(numHeads).u32(numHeads / numKVHeads).u32(capacity).u32((numHeads + 2 * numKVHeads) * headDim).u32(numKVHeads * headDim).u32(N)
        .f32((attrs.scale ?? 1 / Math.sqrt(headDim)) * Math.LOG2E).f32(Math.log2(theta ?? 2))
        .finish(),
      bindings: [slice(qkv), slice(inputs.position!), slice(outputs.out!), slice(kCache), slice(inputs.vCache!), slice(o), slice(inputs.residual!)],
      workgroups: [B],
      // Bounds for a full cache; a step reads only the rows written so far.
      flops: 4 * B * numHeads * capacity * headDim + 2 * B * N * width,
      bytes: 8 * B * capacity * numKVHeads * headDim + 4 * N * width,
    }];
  },
  cost(inputs, attrs) {
    const [B] = inputs.qkv!.shape as [number];
    const capacity = inputs.kCache!.shape[1]!;
    const [N, width] = inputs.o!.shape as [number, number];
    return {
      flops: 4 * B * attrs.numHeads * capacity * attrs.headDim + 2 * B * N * width,
      bytes: 8 * B * capacity * attrs.numKVHeads * attrs.headDim + 4 * N * width,
    };
  },
};

/** Eager decodeAttentionProject: returns residual + attention · oᵀ; the caches gain row position[0]. */
export function decodeAttentionProject(gpu: Gpu, qkv: Tensor, position: Tensor, kCache: Tensor, vCache: Tensor, o: Tensor, residual: Tensor, attrs: DecodeAttentionAttrs): Tensor {
  return runOp(gpu, decodeAttentionProjectOp, { qkv, position, kCache, vCache, o, residual }, attrs).out!;
}
