import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/qkv_split.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface QkvSplitAttrs {
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  /** RoPE base (Llama's adjacent-pair convention); absent: no rotation (GPT-2). */
  theta?: number;
}

/**
 * The glue between a fused q|k|v projection and attention against a KV cache: `qkv`
 * [B, T, (H + 2·KVH)·D] → `q` [B, T, H·D] (rotated when `theta` is given), while k (rotated)
 * and v are appended to the states `kCache`, `vCache` [B, capacity, KVH·D] at row `position[0]`.
 * One dispatch instead of three slices, two ropes and two cache writes.
 */
export const qkvSplitOp: OpDef<QkvSplitAttrs> = {
  name: 'qkvSplit',
  writes: ['kCache', 'vCache'],
  infer(inputs, attrs) {
    const { numHeads, numKVHeads, headDim } = attrs;
    if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) throw new ShapeError(`qkvSplit: headDim must be a positive even integer, got ${headDim}`);
    const qkv = required('qkvSplit', inputs, 'qkv');
    const position = required('qkvSplit', inputs, 'position');
    const kCache = required('qkvSplit', inputs, 'kCache');
    const vCache = required('qkvSplit', inputs, 'vCache');
    expectDType('qkvSplit', 'qkv', qkv, 'f32');
    expectRank('qkvSplit', 'qkv', qkv, 3);
    const [B, T, width] = qkv.shape as [number, number, number];
    if (width !== (numHeads + 2 * numKVHeads) * headDim) {
      throw new ShapeError(`qkvSplit: qkv ${formatShape(qkv.shape)} has rows of ${width}, expected (numHeads + 2·numKVHeads)·headDim = (${numHeads} + 2·${numKVHeads})·${headDim}`);
    }
    expectDType('qkvSplit', 'position', position, 'u32');
    expectShape('qkvSplit', 'position', position, [1]);
    for (const [name, cache] of [['kCache', kCache], ['vCache', vCache]] as const) {
      expectDType('qkvSplit', name, cache, 'f32');
      expectRank('qkvSplit', name, cache, 3);
      if (cache.shape[0] !== B || cache.shape[2] !== numKVHeads * headDim) {
        throw new ShapeError(`qkvSplit: ${name} ${formatShape(cache.shape)} should be [${B}, capacity, ${numKVHeads * headDim}]`);
      }
    }
    expectShape('qkvSplit', 'vCache', vCache, kCache.shape);
    return { q: { shape: [B, T, numHeads * headDim], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const qkv = inputs.qkv!, kCache = inputs.kCache!;
    const { numHeads, numKVHeads, headDim, theta } = attrs;
    const pairs = shapeSize(qkv.shape) / 2;
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(pairs / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = theta === undefined ? 'qkv_split' : 'qkv_split_rope';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup, ROPE: theta !== undefined })),
      uniforms: new Uniforms()
        .u32(pairs).u32(qkv.shape[1]!).u32(((numHeads + 2 * numKVHeads) * headDim) / 2).u32((numHeads * headDim) / 2)
        .u32((numKVHeads * headDim) / 2).u32(headDim / 2).u32(kCache.shape[1]!).u32(gx * workgroup).f32(Math.log2(theta ?? 2))
        .finish(),
      bindings: [slice(qkv), slice(inputs.position!), slice(outputs.q!), slice(kCache), slice(inputs.vCache!)],
      workgroups: [gx, gy],
      flops: theta === undefined ? 0 : 6 * pairs,
      bytes: 16 * pairs,
    }];
  },
  cost(inputs, attrs) {
    const pairs = shapeSize(inputs.qkv!.shape) / 2;
    return { flops: attrs.theta === undefined ? 0 : 6 * pairs, bytes: 16 * pairs };
  },
};

/** Eager qkvSplit: returns q; k and v are written into the caches at `position`. */
export function qkvSplit(gpu: Gpu, qkv: Tensor, position: Tensor, kCache: Tensor, vCache: Tensor, attrs: QkvSplitAttrs): Tensor {
  return runOp(gpu, qkvSplitOp, { qkv, position, kCache, vCache }, attrs).q!;
}
