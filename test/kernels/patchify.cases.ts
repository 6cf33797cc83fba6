import { matmul } from '../../src/ops/matmul.ts';
import { patchify } from '../../src/ops/patchify.ts';
import { patchEmbedRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

/** The im2col rows in float64: out[m, k] = image[b, c, py·p + ky, px·p + kx]. */
function patchifyRef(image: Float32Array, b: number, c: number, h: number, w: number, p: number): Float64Array {
  const cols = w / p, n = (h / p) * cols, k = c * p * p;
  const out = new Float64Array(b * n * k);
  for (let bi = 0; bi < b; bi++)
    for (let ni = 0; ni < n; ni++)
      for (let ci = 0; ci < c; ci++)
        for (let ky = 0; ky < p; ky++)
          for (let kx = 0; kx < p; kx++) {
            const y = Math.floor(ni / cols) * p + ky, x = (ni % cols) * p + kx;
            out[(bi * n + ni) * k + (ci * p + ky) * p + kx] = image[((bi * c + ci) * h + y) * w + x]!;
          }
  return out;
}

// [B, C, H, W, D, p]: single pixels, primes, non-square images, and ViT-B/16's 3×224×224 → 196 × 768.
const variants: [number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 1],
  [1, 3, 6, 9, 5, 3],
  [2, 3, 14, 7, 17, 7],
  [3, 1, 28, 28, 13, 7],
  [1, 3, 224, 224, 11, 16],
];

export const cases: KernelCase[] = variants.flatMap(([b, c, h, w, d, p], i): KernelCase[] => [
  {
    name: `patchify/p${p}/${b}x${c}x${h}x${w}`,
    tolerance: { abs: 0, rel: 0 }, // pure data movement: bit-exact
    async run(gpu) {
      const iv = new Rng(800 + i).normal(b * c * h * w);
      const image = gpu.upload(iv, [b, c, h, w]);
      const out = patchify(gpu, image, p);
      const got = await out.download();
      [image, out].forEach((t) => t.destroy());
      return { got, want: patchifyRef(iv, b, c, h, w, p) };
    },
  },
  {
    // ViT's patch embedding as Tessera runs it: patchify, then matmul with the Conv2d weight viewed as [D, C·p·p].
    name: `patchify+matmul=conv2d/p${p}/${b}x${c}x${h}x${w}->${d}`,
    tolerance: { abs: 1e-5, rel: 1e-5 },
    async run(gpu) {
      const rng = new Rng(850 + i);
      const iv = rng.normal(b * c * h * w), wv = rng.normal(d * c * p * p, 0.1), bv = rng.normal(d, 0.1);
      const image = gpu.upload(iv, [b, c, h, w]), weight = gpu.upload(wv, [d, c * p * p]), bias = gpu.upload(bv);
      const rows = patchify(gpu, image, p);
      const out = matmul(gpu, rows, weight, { transposeB: true, bias });
      const got = await out.download();
      [image, weight, bias, rows, out].forEach((t) => t.destroy());
      return { got, want: patchEmbedRef(iv, wv, bv, b, c, h, w, d, p) };
    },
  },
]);
