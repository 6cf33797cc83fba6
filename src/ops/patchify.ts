import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/patchify.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface PatchifyAttrs {
  patchSize: number;
}

/**
 * Images [B, C, H, W] → patches [B, N, C·p·p], one row per p×p patch in raster order, its pixels in
 * Conv2d weight order. ViT's patch embedding is then `matmul(patches, weight as [D, C·p·p], transposeB)`,
 * which runs on the tuned matmul kernel instead of a convolution.
 */
export const patchifyOp: OpDef<PatchifyAttrs> = {
  name: 'patchify',
  infer(inputs, { patchSize: p }) {
    const image = required('patchify', inputs, 'image');
    expectDType('patchify', 'image', image, 'f32');
    expectRank('patchify', 'image', image, 4);
    if (!Number.isInteger(p) || p < 1) throw new ShapeError(`patchify: patchSize must be a positive integer, got ${p}`);
    const [b, c, h, w] = image.shape as [number, number, number, number];
    if (h % p !== 0 || w % p !== 0) throw new ShapeError(`patchify: image ${formatShape(image.shape)} has H×W = ${h}×${w}, not a multiple of the patch size ${p}`);
    return { out: { shape: [b, (h / p) * (w / p), c * p * p], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, { patchSize: p }) {
    const image = inputs.image!, out = outputs.out!;
    const [, c, h, w] = image.shape as [number, number, number, number];
    const count = shapeSize(out.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [x, y] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = 'patchify';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(p).u32(w / p).u32((h / p) * (w / p)).u32(c).u32(h).u32(w).u32(x * workgroup).finish(),
      bindings: [slice(image), slice(out)],
      workgroups: [x, y],
      flops: 0,
      bytes: 8 * count,
    }];
  },
  cost(inputs) {
    return { flops: 0, bytes: 8 * shapeSize(inputs.image!.shape) };
  },
};

export function patchify(gpu: Gpu, image: Tensor, patchSize: number): Tensor {
  return runOp(gpu, patchifyOp, { image }, { patchSize }).out!;
}
