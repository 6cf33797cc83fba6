import type { Gpu } from '../device/gpu.ts';
import { shapeSize } from '../device/dtype.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/transpose_heads.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

/**
 * `x` [B, X, Y, D] → [B, Y, X, D] (the middle axes swapped): splits attention heads out of rows,
 * [B, T, H, d] → [B, H, T, d], and merges them back.
 */
export const transposeHeadsOp: OpDef<Record<string, never>> = {
  name: 'transpose_heads',
  infer(inputs) {
    const x = required('transpose_heads', inputs, 'x');
    expectDType('transpose_heads', 'x', x, 'f32');
    expectRank('transpose_heads', 'x', x, 4);
    const [b, dx, dy, d] = x.shape as [number, number, number, number];
    return { out: { shape: [b, dy, dx, d], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs) {
    const x = inputs.x!;
    const [, dx, dy, d] = x.shape as [number, number, number, number];
    const count = shapeSize(x.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = 'transpose_heads';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(dx).u32(dy).u32(d).u32(gx * workgroup).finish(),
      bindings: [slice(x), slice(outputs.out!)],
      workgroups: [gx, gy],
      flops: 0,
      bytes: 8 * count,
    }];
  },
  cost(inputs) {
    return { flops: 0, bytes: 8 * shapeSize(inputs.x!.shape) };
  },
};

export function transposeHeads(gpu: Gpu, x: Tensor): Tensor {
  return runOp(gpu, transposeHeadsOp, { x }, {}).out!;
}
