import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Gpu } from '../device/gpu.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/cache_write.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

/**
 * Append `src` [B, T, C] to a KV cache [B, capacity, C] at row `position[0]`, in place.
 * The node has no outputs; the graph keeps it because it writes `cache` (a state).
 */
export const cacheWriteOp: OpDef<Record<string, never>> = {
  name: 'cacheWrite',
  writes: ['cache'],
  infer(inputs) {
    const src = required('cacheWrite', inputs, 'src');
    const cache = required('cacheWrite', inputs, 'cache');
    const position = required('cacheWrite', inputs, 'position');
    expectRank('cacheWrite', 'src', src, 3);
    expectRank('cacheWrite', 'cache', cache, 3);
    expectDType('cacheWrite', 'src', src, 'f32');
    expectDType('cacheWrite', 'cache', cache, 'f32');
    expectDType('cacheWrite', 'position', position, 'u32');
    if (src.shape[0] !== cache.shape[0] || src.shape[2] !== cache.shape[2] || src.shape[1]! > cache.shape[1]!) {
      throw new ShapeError(`cacheWrite: src ${formatShape(src.shape)} does not fit cache ${formatShape(cache.shape)} ([B, T, C] into [B, capacity ≥ T, C])`);
    }
    return {};
  },
  plan(gpu, inputs) {
    const src = inputs.src!, cache = inputs.cache!, position = inputs.position!;
    const [batch, tokens, channels] = src.shape as [number, number, number];
    const count = batch * tokens * channels;
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [x, y] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    return [{
      kernel: 'cache_write',
      pipeline: gpu.pipeline('cache_write', specialize('cache_write', source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(tokens).u32(channels).u32(cache.shape[1]!).u32(x * workgroup).finish(),
      bindings: [slice(src), slice(position), slice(cache)],
      workgroups: [x, y],
      bytes: 8 * count,
    }];
  },
  cost(inputs) {
    return { flops: 0, bytes: 8 * shapeSize(inputs.src!.shape) };
  },
};

export function cacheWrite(gpu: Gpu, src: Tensor, cache: Tensor, position: Tensor): void {
  runOp(gpu, cacheWriteOp, { src, cache, position }, {});
}
