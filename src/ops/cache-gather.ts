import { formatShape } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Gpu } from '../device/gpu.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/cache_gather.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

/**
 * Reorder a KV cache between beams: dst[b, t, :] = src[index[b], t, :] for t < rows[0], in place
 * in `dst` (a second cache of the same shape: the copy cannot be done within one buffer).
 * Inputs: `src`, `dst` f32 [N, capacity, C], `index` i32 [N] (each in [0, N)), `rows` u32 [1].
 * The node has no outputs; the graph keeps it because it writes `dst`.
 */
export const cacheGatherOp: OpDef<Record<string, never>> = {
  name: 'cacheGather',
  writes: ['dst'],
  infer(inputs) {
    const src = required('cacheGather', inputs, 'src');
    const dst = required('cacheGather', inputs, 'dst');
    const index = required('cacheGather', inputs, 'index');
    const rows = required('cacheGather', inputs, 'rows');
    expectDType('cacheGather', 'src', src, 'f32');
    expectDType('cacheGather', 'dst', dst, 'f32');
    expectRank('cacheGather', 'src', src, 3);
    expectShape('cacheGather', 'dst', dst, src.shape);
    expectDType('cacheGather', 'index', index, 'i32');
    expectShape('cacheGather', 'index', index, [src.shape[0]!]);
    expectDType('cacheGather', 'rows', rows, 'u32');
    expectShape('cacheGather', 'rows', rows, [1]);
    return {};
  },
  plan(gpu, inputs) {
    const src = inputs.src!, dst = inputs.dst!, index = inputs.index!, rows = inputs.rows!;
    if (src.buffer === dst.buffer && src.offset === dst.offset) throw new ShapeError(`cacheGather: src and dst ${formatShape(src.shape)} must be different buffers`);
    const [n, capacity, channels] = src.shape as [number, number, number];
    const count = n * capacity * channels;
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [x, y] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    return [{
      kernel: 'cache_gather',
      pipeline: gpu.pipeline('cache_gather', specialize('cache_gather', source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(capacity).u32(channels).u32(x * workgroup).finish(),
      bindings: [slice(src), slice(index), slice(rows), slice(dst)],
      workgroups: [x, y],
      bytes: 8 * count, // at most: the rows past rows[0] are skipped
    }];
  },
  cost(inputs) {
    const [n, capacity, channels] = inputs.src!.shape as [number, number, number];
    return { flops: 0, bytes: 8 * n * capacity * channels };
  },
};

export function cacheGather(gpu: Gpu, src: Tensor, dst: Tensor, index: Tensor, rows: Tensor): void {
  runOp(gpu, cacheGatherOp, { src, dst, index, rows }, {});
}
