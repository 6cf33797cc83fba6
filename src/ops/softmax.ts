import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/softmax.wgsl';
import { expectDType, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';
import { rowTiling, tilingDefines, tilingName } from './row-tiling.ts';

/** Numerically stable softmax over the last dimension of `x`. */
export const softmaxOp: OpDef<Record<string, never>> = {
  name: 'softmax',
  infer(inputs) {
    const x = required('softmax', inputs, 'x');
    expectDType('softmax', 'x', x, 'f32');
    if (x.shape.length < 1) throw new ShapeError(`softmax: input 'x' must have at least one dimension, got ${formatShape(x.shape)}`);
    return { out: { shape: x.shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs) {
    const x = inputs.x!;
    const d = x.shape[x.shape.length - 1]!;
    const rows = shapeSize(x.shape) / d;
    const tiling = rowTiling(gpu, d, gpu.tuning.rowReductions.streamMaxPerLane, gpu.tuning.rowReductions.streamPerLane);
    const [gx, gy] = grid1d(Math.ceil(rows / tiling.rows), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `softmax_${tilingName(tiling)}`;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, tilingDefines(tiling))),
      uniforms: new Uniforms().u32(rows).u32(d).u32(gx).finish(),
      bindings: [slice(x), slice(outputs.out!)],
      workgroups: [gx, gy],
      flops: 5 * rows * d,
      bytes: 12 * rows * d,
    }];
  },
  cost(inputs) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: 5 * n, bytes: 12 * n };
  },
};

export function softmax(gpu: Gpu, x: Tensor): Tensor {
  return runOp(gpu, softmaxOp, { x }, {}).out!;
}
