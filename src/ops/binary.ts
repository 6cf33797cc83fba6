import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/binary.wgsl';
import { expectDType, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface BinaryAttrs {
  op: 'add' | 'mul';
}

/** `out = a ⊕ b`, with b broadcast over a's leading dimensions (b's shape is a suffix of a's). */
export const binaryOp: OpDef<BinaryAttrs> = {
  name: 'binary',
  infer(inputs, attrs) {
    const a = required(attrs.op, inputs, 'a');
    const b = required(attrs.op, inputs, 'b');
    expectDType(attrs.op, 'a', a, 'f32');
    expectDType(attrs.op, 'b', b, 'f32');
    const suffix = a.shape.slice(a.shape.length - b.shape.length);
    if (b.shape.length > a.shape.length || suffix.some((d, i) => d !== b.shape[i])) {
      throw new ShapeError(`${attrs.op}: b ${formatShape(b.shape)} does not broadcast to a ${formatShape(a.shape)} (b's shape must be a suffix of a's)`);
    }
    return { out: { shape: a.shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const a = inputs.a!, b = inputs.b!, out = outputs.out!;
    const count = shapeSize(a.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [x, y] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `binary_${attrs.op}`;
    const code = specialize(kernel, source, { WORKGROUP: workgroup, ADD: attrs.op === 'add', MUL: attrs.op === 'mul' });
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms: new Uniforms().u32(count).u32(shapeSize(b.shape)).u32(x * workgroup).finish(),
      bindings: [slice(a), slice(b), slice(out)],
      workgroups: [x, y],
      flops: count,
      bytes: 4 * (2 * count + shapeSize(b.shape)),
    }];
  },
  cost(inputs) {
    const n = shapeSize(inputs.a!.shape);
    return { flops: n, bytes: 12 * n };
  },
};

export function add(gpu: Gpu, a: Tensor, b: Tensor): Tensor {
  return runOp(gpu, binaryOp, { a, b }, { op: 'add' }).out!;
}

export function mul(gpu: Gpu, a: Tensor, b: Tensor): Tensor {
  return runOp(gpu, binaryOp, { a, b }, { op: 'mul' }).out!;
}
