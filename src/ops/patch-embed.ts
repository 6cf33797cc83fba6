import type { Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/patch_embed.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

export interface PatchEmbedAttrs {
  patchSize: number;
}

/** ViT patch embedding: Conv2d(C → D, kernel = stride = patchSize) of image [B, C, H, W], flattened to [B, N, D]. */
export const patchEmbedOp: OpDef<PatchEmbedAttrs> = {
  name: 'patch_embed',
  infer(inputs, { patchSize: p }) {
    const image = required('patch_embed', inputs, 'image');
    const weight = required('patch_embed', inputs, 'weight');
    const bias = required('patch_embed', inputs, 'bias');
    for (const [name, t] of [['image', image], ['weight', weight], ['bias', bias]] as const) expectDType('patch_embed', name, t, 'f32');
    expectRank('patch_embed', 'image', image, 4);
    expectRank('patch_embed', 'weight', weight, 4);
    const [b, c, h, w] = image.shape as [number, number, number, number];
    const d = weight.shape[0]!;
    if (!Number.isInteger(p) || p < 1) throw new ShapeError(`patch_embed: patchSize must be a positive integer, got ${p}`);
    if (h % p !== 0 || w % p !== 0) {
      throw new ShapeError(`patch_embed: image ${formatShape(image.shape)} has H×W = ${h}×${w}, not a multiple of the patch size ${p}`);
    }
    expectShape('patch_embed', 'weight', weight, [d, c, p, p]);
    expectShape('patch_embed', 'bias', bias, [d]);
    return { out: { shape: [b, (h / p) * (w / p), d], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, { patchSize: p }) {
    const image = inputs.image!, weight = inputs.weight!;
    const [b, c, h, w] = image.shape as [number, number, number, number];
    const d = weight.shape[0]!;
    const n = (h / p) * (w / p), m = b * n, k = c * p * p;
    const kernel = 'patch_embed';
    const tile = gpu.tuning.patchEmbed.tile;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { TILE: tile })),
      uniforms: new Uniforms().u32(m).u32(d).u32(k).u32(p).u32(n).u32(w / p).u32(h).u32(w).u32(c).finish(),
      bindings: [slice(image), slice(weight), slice(inputs.bias!), slice(outputs.out!)],
      workgroups: [Math.ceil(d / tile), Math.ceil(m / tile)],
      flops: 2 * m * d * k,
      bytes: 4 * (m * k + d * k + m * d),
    }];
  },
  cost(inputs, { patchSize: p }) {
    const [b, c, h, w] = inputs.image!.shape as [number, number, number, number];
    const d = inputs.weight!.shape[0]!, m = (b * h * w) / (p * p), k = c * p * p;
    return { flops: 2 * m * d * k, bytes: 4 * (m * k + d * k + m * d) };
  },
};

export function patchEmbed(gpu: Gpu, image: Tensor, weight: Tensor, bias: Tensor, patchSize: number): Tensor {
  return runOp(gpu, patchEmbedOp, { image, weight, bias }, { patchSize }).out!;
}
