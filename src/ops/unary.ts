import type { Gpu } from '../device/gpu.ts';
import { shapeSize } from '../device/dtype.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/unary.wgsl';
import { activationDefines } from './activation.ts';
import { expectDType, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export type UnaryFn = 'gelu_tanh' | 'gelu_erf' | 'silu' | 'relu';

export interface UnaryAttrs {
  fn: UnaryFn;
}

/** Rough flops per element, for profiles. */
const FLOPS: Record<UnaryFn, number> = { gelu_tanh: 12, gelu_erf: 16, silu: 4, relu: 1 };

/** `out = fn(x)` elementwise. */
export const unaryOp: OpDef<UnaryAttrs> = {
  name: 'unary',
  infer(inputs, attrs) {
    const x = required(attrs.fn, inputs, 'x');
    expectDType(attrs.fn, 'x', x, 'f32');
    if (!(attrs.fn in FLOPS)) throw new Error(`unary: unknown function '${attrs.fn}' (expected ${Object.keys(FLOPS).join(', ')})`);
    return { out: { shape: x.shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const x = inputs.x!, out = outputs.out!;
    const count = shapeSize(x.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `unary_${attrs.fn}`;
    const code = specialize(kernel, source, { WORKGROUP: workgroup, ...activationDefines(attrs.fn) });
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms: new Uniforms().u32(count).u32(gx * workgroup).finish(),
      bindings: [slice(x), slice(out)],
      workgroups: [gx, gy],
      flops: FLOPS[attrs.fn] * count,
      bytes: 8 * count,
    }];
  },
  cost(inputs, attrs) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: FLOPS[attrs.fn] * n, bytes: 8 * n };
  },
};

export function unary(gpu: Gpu, x: Tensor, fn: UnaryFn): Tensor {
  return runOp(gpu, unaryOp, { x }, { fn }).out!;
}

export const gelu = (gpu: Gpu, x: Tensor): Tensor => unary(gpu, x, 'gelu_tanh');
export const geluErf = (gpu: Gpu, x: Tensor): Tensor => unary(gpu, x, 'gelu_erf');
export const silu = (gpu: Gpu, x: Tensor): Tensor => unary(gpu, x, 'silu');
export const relu = (gpu: Gpu, x: Tensor): Tensor => unary(gpu, x, 'relu');
