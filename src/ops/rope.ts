import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/rope.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface RopeAttrs {
  numHeads: number;
  headDim: number;
  /** Base of the frequencies, 10000 in Llama 1/2, 500000 in Llama 3. */
  theta: number;
}

/**
 * Rotary embedding of x [B, T, numHeads·headDim] in the Llama convention (adjacent pairs rotate),
 * for positions offset + t, where offset = position[0] when the `position` input is given, else 0.
 */
export const ropeOp: OpDef<RopeAttrs> = {
  name: 'rope',
  infer(inputs, attrs) {
    const x = required('rope', inputs, 'x');
    expectDType('rope', 'x', x, 'f32');
    expectRank('rope', 'x', x, 3);
    const { numHeads, headDim } = attrs;
    if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) throw new ShapeError(`rope: headDim must be a positive even integer, got ${headDim}`);
    if (x.shape[2] !== numHeads * headDim) {
      throw new ShapeError(`rope: input 'x' has shape ${formatShape(x.shape)}, expected last dim numHeads·headDim = ${numHeads}·${headDim} = ${numHeads * headDim}`);
    }
    if (inputs.position) {
      expectDType('rope', 'position', inputs.position, 'u32');
      expectShape('rope', 'position', inputs.position, [1]);
    }
    return { out: { shape: x.shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const x = inputs.x!, position = inputs.position;
    const pairs = shapeSize(x.shape) / 2;
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(pairs / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = position ? 'rope_offset' : 'rope';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup, DYNAMIC_OFFSET: !!position })),
      uniforms: new Uniforms().u32(pairs).u32(x.shape[1]!).u32(attrs.headDim / 2).u32(attrs.numHeads).u32(gx * workgroup).f32(Math.log2(attrs.theta)).finish(),
      bindings: [slice(x), slice(outputs.out!), ...(position ? [slice(position)] : [])],
      workgroups: [gx, gy],
      flops: 6 * pairs,
      bytes: 16 * pairs,
    }];
  },
  cost(inputs) {
    const pairs = shapeSize(inputs.x!.shape) / 2;
    return { flops: 6 * pairs, bytes: 16 * pairs };
  },
};

export function rope(gpu: Gpu, x: Tensor, attrs: RopeAttrs, position?: Tensor): Tensor {
  return runOp(gpu, ropeOp, { x, position }, attrs).out!;
}
