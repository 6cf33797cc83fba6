import type { Gpu } from '../device/gpu.ts';
import { shapeSize } from '../device/dtype.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/argmax.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';
import { rowTiling, tilingDefines, tilingName } from './row-tiling.ts';

/** Index of the largest value in each row of x [rows, V] (the first on ties) → i32 [rows]. */
export const argmaxOp: OpDef<Record<string, never>> = {
  name: 'argmax',
  infer(inputs) {
    const x = required('argmax', inputs, 'x');
    expectDType('argmax', 'x', x, 'f32');
    expectRank('argmax', 'x', x, 2);
    return { out: { shape: [x.shape[0]!], dtype: 'i32' } };
  },
  plan(gpu, inputs, outputs) {
    const x = inputs.x!;
    const [rows, v] = x.shape as [number, number];
    const tiling = rowTiling(gpu, v, gpu.tuning.rowReductions.streamMaxPerLane, gpu.tuning.rowReductions.streamPerLane);
    const [gx, gy] = grid1d(Math.ceil(rows / tiling.rows), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `argmax_${tilingName(tiling)}`;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, tilingDefines(tiling))),
      uniforms: new Uniforms().u32(rows).u32(v).u32(gx).finish(),
      bindings: [slice(x), slice(outputs.out!)],
      workgroups: [gx, gy],
      flops: rows * v,
      bytes: 4 * (rows * v + rows),
    }];
  },
  cost(inputs) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: n, bytes: 4 * n };
  },
};

export function argmax(gpu: Gpu, x: Tensor): Tensor {
  return runOp(gpu, argmaxOp, { x }, {}).out!;
}
