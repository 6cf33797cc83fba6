import type { Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/decode_attention.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize, Uniforms } from './shader.ts';
import { MAX_HEAD_DIM } from './attention.ts';

export interface DecodeAttentionAttrs {
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  /** RoPE base (adjacent pairs); absent: no rotation (GPT-2). */
  theta?: number;
  /** Default 1/√headDim. */
  scale?: number;
}

/**
 * One decode step of attention from a fused projection: `qkv` [B, 1, (H + 2·KVH)·D] → `out`
 * [B, 1, H·D], with q and k rotated (when `theta` is given), k and v appended to `kCache`,
 * `vCache` [B, capacity, KVH·D] at row position[0], and the query attending to rows
 * 0 .. position[0]. The same as qkvSplitOp then attentionOp with kvLength = position + 1, in one
 * dispatch.
 */
export const decodeAttentionOp: OpDef<DecodeAttentionAttrs> = {
  name: 'decodeAttention',
  writes: ['kCache', 'vCache'],
  infer(inputs, attrs) {
    const { numHeads, numKVHeads, headDim } = attrs;
    if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) throw new ShapeError(`decodeAttention: headDim must be a positive even integer, got ${headDim}`);
    if (headDim > MAX_HEAD_DIM) throw new LimitError(`decodeAttention: headDim ${headDim} exceeds the kernel's limit of ${MAX_HEAD_DIM}`);
    if (numHeads % numKVHeads !== 0) throw new ShapeError(`decodeAttention: numKVHeads ${numKVHeads} must divide numHeads ${numHeads}`);
    const qkv = required('decodeAttention', inputs, 'qkv');
    const position = required('decodeAttention', inputs, 'position');
    const kCache = required('decodeAttention', inputs, 'kCache');
    const vCache = required('decodeAttention', inputs, 'vCache');
    expectDType('decodeAttention', 'qkv', qkv, 'f32');
    expectRank('decodeAttention', 'qkv', qkv, 3);
    const [B, T] = qkv.shape as [number, number];
    expectShape('decodeAttention', 'qkv', qkv, [B, 1, (numHeads + 2 * numKVHeads) * headDim]);
    if (T !== 1) throw new ShapeError(`decodeAttention: one token at a time, got qkv ${formatShape(qkv.shape)}`);
    expectDType('decodeAttention', 'position', position, 'u32');
    expectShape('decodeAttention', 'position', position, [1]);
    for (const [name, cache] of [['kCache', kCache], ['vCache', vCache]] as const) {
      expectDType('decodeAttention', name, cache, 'f32');
      expectRank('decodeAttention', name, cache, 3);
      if (cache.shape[0] !== B || cache.shape[2] !== numKVHeads * headDim) {
        throw new ShapeError(`decodeAttention: ${name} ${formatShape(cache.shape)} should be [${B}, capacity, ${numKVHeads * headDim}]`);
      }
    }
    expectShape('decodeAttention', 'vCache', vCache, kCache.shape);
    return { out: { shape: [B, 1, numHeads * headDim], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const { numHeads, numKVHeads, headDim, theta } = attrs;
    const qkv = inputs.qkv!, kCache = inputs.kCache!;
    const [B] = qkv.shape as [number];
    let threads = gpu.tuning.decodeAttention.threads; // fewer when the partial outputs would not fit in workgroup memory
    while (threads > 1 && 4 * (threads * headDim + 2 * threads + 3 * headDim) > gpu.limits.maxComputeWorkgroupStorageSize) threads /= 2;
    const kernel = `decode_attention_d${headDim}${theta === undefined ? '' : '_rope'}`;
    const code = specialize(kernel, source, { HEAD_DIM: headDim, THREADS: threads, ROPE: theta !== undefined });
    const capacity = kCache.shape[1]!;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms: new Uniforms()
        .u32(numHeads).u32(numHeads / numKVHeads).u32(capacity).u32((numHeads + 2 * numKVHeads) * headDim).u32(numKVHeads * headDim)
        .f32((attrs.scale ?? 1 / Math.sqrt(headDim)) * Math.LOG2E).f32(Math.log2(theta ?? 2))
        .finish(),
      bindings: [slice(qkv), slice(inputs.position!), slice(outputs.out!), slice(kCache), slice(inputs.vCache!)],
      workgroups: [numHeads, B],
      // Bounds for a full cache; a step reads only the rows written so far.
      flops: 4 * B * numHeads * capacity * headDim,
      bytes: 8 * B * capacity * numKVHeads * headDim,
    }];
  },
  cost(inputs, attrs) {
    const [B] = inputs.qkv!.shape as [number];
    const capacity = inputs.kCache!.shape[1]!;
    return { flops: 4 * B * attrs.numHeads * capacity * attrs.headDim, bytes: 8 * B * capacity * attrs.numKVHeads * attrs.headDim };
  },
};

/** Eager decodeAttention: returns the attention output; the caches gain row position[0]. */
export function decodeAttention(gpu: Gpu, qkv: Tensor, position: Tensor, kCache: Tensor, vCache: Tensor, attrs: DecodeAttentionAttrs): Tensor {
  return runOp(gpu, decodeAttentionOp, { qkv, position, kCache, vCache }, attrs).out!;
}
