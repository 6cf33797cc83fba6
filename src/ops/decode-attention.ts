import type { Dispatch, Gpu } from '../device/gpu.ts';
import type { TensorRef } from '../device/tensor.ts';
import source from '../../shaders/decode_attention.wgsl';
import { slice } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

/** The heads of one fused-qkv decode step, as attentionOp's table hands them to its kernels. */
export interface DecodeHeads {
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  /** RoPE base (adjacent pairs); absent: no rotation (GPT-2). */
  theta?: number;
  scale: number;
}

/**
 * The `decode_attention` kernel (a row of attentionOp's table): one token's `qkv` [B, 1,
 * (H + 2·KVH)·D] → `out` [B, 1, H·D], q and k rotated when `theta` is given, k and v appended to
 * `kCache`, `vCache` [B, capacity, KVH·D] at row position[0], and the query attending to rows
 * 0 .. position[0]: qkv split, RoPE, cache write and attention in one dispatch, one workgroup per head.
 */
export function planDecodeAttention(
  gpu: Gpu,
  t: { qkv: TensorRef; position: TensorRef; kCache: TensorRef; vCache: TensorRef; out: TensorRef },
  heads: DecodeHeads,
): Dispatch {
  const { numHeads, numKVHeads, headDim, theta } = heads;
  const [B] = t.qkv.shape as [number];
  let threads = gpu.tuning.decodeAttention.threads;
  while (threads > 1 && 4 * (threads * headDim + 2 * threads + 3 * headDim) > gpu.limits.maxComputeWorkgroupStorageSize) threads /= 2;
  const kernel = `decode_attention_d${headDim}${theta === undefined ? '' : '_rope'}`;
  const code = specialize(kernel, source, { HEAD_DIM: headDim, THREADS: threads, ROPE: theta !== undefined });
  const capacity = t.kCache.shape[1]!;
  return {
    kernel,
    pipeline: gpu.pipeline(kernel, code),
    uniforms: new Uniforms()
      .u32(numHeads).u32(numHeads / numKVHeads).u32(capacity).u32((numHeads + 2 * numKVHeads) * headDim).u32(numKVHeads * headDim)
      .f32(heads.scale * Math.LOG2E).f32(Math.log2(theta ?? 2))
      .finish(),
    bindings: [slice(t.qkv), slice(t.position), slice(t.out), slice(t.kCache), slice(t.vCache)],
    workgroups: [numHeads, B],
    // Bounds for a full cache; a step reads only the rows written so far.
    flops: 4 * B * numHeads * capacity * headDim,
    bytes: 8 * B * capacity * numKVHeads * headDim,
  };
}
