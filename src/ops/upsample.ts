import type { Gpu } from '../device/gpu.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/upsample.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export type UpsampleMode = 'nearest' | 'bilinear';

export interface UpsampleAttrs {
  /** Integer factor s: [h, w] → [h·s, w·s]. */
  scale: number;
  mode: UpsampleMode;
}

/** Enlarge an RGBA8 image u32 [h, w] by an integer factor (nearest, or bilinear as PyTorch with align_corners=False). */
export const upsampleOp: OpDef<UpsampleAttrs> = {
  name: 'upsample',
  infer(inputs, { scale, mode }) {
    const image = required('upsample', inputs, 'image');
    expectDType('upsample', 'image', image, 'u32');
    expectRank('upsample', 'image', image, 2);
    if (!Number.isInteger(scale) || scale < 1) throw new ShapeError(`upsample: scale must be a positive integer, got ${scale}`);
    if (mode !== 'nearest' && mode !== 'bilinear') throw new ShapeError(`upsample: mode must be 'nearest' or 'bilinear', got ${JSON.stringify(mode)}`);
    const [h, w] = image.shape as [number, number];
    return { out: { shape: [h * scale, w * scale], dtype: 'u32' } };
  },
  plan(gpu, inputs, outputs, { scale, mode }) {
    const [h, w] = inputs.image!.shape as [number, number];
    const count = h * w * scale * scale;
    const workgroup = gpu.tuning.elementwise.imageWorkgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `upsample_${mode}`;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup, BILINEAR: mode === 'bilinear' })),
      uniforms: new Uniforms().u32(h).u32(w).u32(w * scale).u32(scale).u32(count).u32(gx * workgroup).finish(),
      bindings: [slice(inputs.image!), slice(outputs.out!)],
      workgroups: [gx, gy],
      flops: mode === 'bilinear' ? 24 * count : 0,
      bytes: (mode === 'bilinear' ? 20 : 8) * count,
    }];
  },
  cost(inputs, { scale, mode }) {
    const [h, w] = inputs.image!.shape as [number, number];
    const count = h * w * scale * scale;
    return { flops: mode === 'bilinear' ? 24 * count : 0, bytes: (mode === 'bilinear' ? 20 : 8) * count };
  },
};

export function upsample(gpu: Gpu, image: Tensor, scale: number, mode: UpsampleMode = 'nearest'): Tensor {
  return runOp(gpu, upsampleOp, { image }, { scale, mode }).out!;
}
