import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/swiglu.wgsl';
import { expectDType, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

/** `out = silu(gate) · up` where x [..., 2F] = gate | up (Llama's feed-forward gate) → out [..., F]. */
export const swigluOp: OpDef<Record<string, never>> = {
  name: 'swiglu',
  infer(inputs) {
    const x = required('swiglu', inputs, 'x');
    expectDType('swiglu', 'x', x, 'f32');
    const width = x.shape[x.shape.length - 1];
    if (width === undefined || width % 2 !== 0) throw new ShapeError(`swiglu: input 'x' ${formatShape(x.shape)} must end in an even dimension 2F (gate | up)`);
    return { out: { shape: [...x.shape.slice(0, -1), width / 2], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs) {
    const x = inputs.x!, out = outputs.out!;
    const count = shapeSize(out.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    return [{
      kernel: 'swiglu',
      pipeline: gpu.pipeline('swiglu', specialize('swiglu', source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(out.shape[out.shape.length - 1]!).u32(gx * workgroup).finish(),
      bindings: [slice(x), slice(out)],
      workgroups: [gx, gy],
      flops: 5 * count,
      bytes: 12 * count,
    }];
  },
  cost(inputs) {
    const count = shapeSize(inputs.x!.shape) / 2;
    return { flops: 5 * count, bytes: 12 * count };
  },
};

export function swiglu(gpu: Gpu, x: Tensor): Tensor {
  return runOp(gpu, swigluOp, { x }, {}).out!;
}
