import { patchEmbed } from '../../src/ops/patch-embed.ts';
import { patchEmbedRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, C, H, W, D, p]: tiles of 16 never divide M = B·N, D or K = C·p·p evenly.
const variants: [number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1],
  [1, 3, 6, 9, 5, 3],
  [2, 3, 14, 7, 17, 7],
  [1, 3, 32, 48, 33, 16],
  [3, 2, 10, 5, 19, 5],
];

export const cases: KernelCase[] = variants.map(([b, c, h, w, d, p], i): KernelCase => ({
  name: `patch_embed/p${p}/${b}x${c}x${h}x${w}->${d}`,
  tolerance: { abs: 1e-5, rel: 1e-5 },
  async run(gpu) {
    const rng = new Rng(700 + i);
    const iv = rng.normal(b * c * h * w), wv = rng.normal(d * c * p * p, 0.1), bv = rng.normal(d, 0.1);
    const image = gpu.upload(iv, [b, c, h, w]), weight = gpu.upload(wv, [d, c, p, p]), bias = gpu.upload(bv);
    const out = patchEmbed(gpu, image, weight, bias, p);
    const got = await out.download();
    [image, weight, bias, out].forEach((t) => t.destroy());
    return { got, want: patchEmbedRef(iv, wv, bv, b, c, h, w, d, p) };
  },
}));
