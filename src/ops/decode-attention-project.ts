import type { Dispatch, Gpu } from '../device/gpu.ts';
import { LimitError } from '../device/errors.ts';
import type { TensorRef } from '../device/tensor.ts';
import source from '../../shaders/decode_attention_project.wgsl';
import type { DecodeHeads } from './decode-attention.ts';
import { slice } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

/**
 * The `decode_attention_project` kernel (a row of attentionOp's table): one decode step as
 * planDecodeAttention does it, then its output projection, `out` = residual + attention · oᵀ
 * [B, 1, N] with `o` [N, H·D]: one dispatch instead of two. Each head walks its keys in one
 * invocation, so it is meant for small models and short contexts, where the dispatch, not the
 * arithmetic, is the cost.
 */
export function planDecodeAttentionProject(
  gpu: Gpu,
  t: { qkv: TensorRef; position: TensorRef; kCache: TensorRef; vCache: TensorRef; o: TensorRef; residual: TensorRef; out: TensorRef },
  heads: DecodeHeads,
): Dispatch {
  const { numHeads, numKVHeads, headDim, theta } = heads;
  const [B] = t.qkv.shape as [number];
  const [N, width] = t.o.shape as [number, number];
  if (4 * width > gpu.limits.maxComputeWorkgroupStorageSize) {
    throw new LimitError(`attention (decode_attention_project): numHeads·headDim = ${width} floats exceed maxComputeWorkgroupStorageSize (${gpu.limits.maxComputeWorkgroupStorageSize} bytes)`);
  }
  const kernel = `decode_attention_project_d${headDim}_w${width}${theta === undefined ? '' : '_rope'}`;
  const code = specialize(kernel, source, { HEAD_DIM: headDim, ATTN_DIM: width, THREADS: gpu.tuning.decodeAttention.projectThreads, ROPE: theta !== undefined });
  const capacity = t.kCache.shape[1]!;
  return {
    kernel,
    pipeline: gpu.pipeline(kernel, code),
    uniforms: new Uniforms()
      .u32(numHeads).u32(numHeads / numKVHeads).u32(capacity).u32((numHeads + 2 * numKVHeads) * headDim).u32(numKVHeads * headDim).u32(N)
      .f32(heads.scale * Math.LOG2E).f32(Math.log2(theta ?? 2))
      .finish(),
    bindings: [slice(t.qkv), slice(t.position), slice(t.out), slice(t.kCache), slice(t.vCache), slice(t.o), slice(t.residual)],
    workgroups: [B],
    // Bounds for a full cache; a step reads only the rows written so far.
    flops: 4 * B * numHeads * capacity * headDim + 2 * B * N * width,
    bytes: 8 * B * capacity * numKVHeads * headDim + 4 * N * width,
  };
}
