// The image-token generator's kernels: detokenize (token grid → pixels through a codebook) and
// upsample (nearest, bilinear), against the float64 CPU references. Outputs are packed RGBA8, so
// the cases compare the bytes: exactly, except bilinear at factors that are not powers of two,
// where f32 and f64 may round a value at exactly .5 apart (at most 1 apart).
import { detokenize } from '../../src/ops/detokenize.ts';
import { upsample } from '../../src/ops/upsample.ts';
import { detokenizeRef, rowHashes, upsampleRef } from '../util/image-reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

/** Packed RGBA8 as bytes, which `judge` compares channel by channel. */
const bytes = (pixels: Uint32Array) => new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);

// [H, W, K, p, firstToken]: grids of 1 and primes, palettes (p = 1) and odd patches.
const detokenizeShapes: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 0],
  [1, 7, 3, 1, 256],
  [5, 3, 17, 2, 300],
  [13, 11, 64, 3, 1],
  [6, 29, 5, 7, 1000],
  [37, 41, 256, 4, 256],
];

// [h, w, s]: sizes of 1 and primes; factors 1 (a copy), powers of two and primes.
const upsampleShapes: [number, number, number][] = [[1, 1, 1], [1, 1, 4], [1, 5, 3], [7, 1, 2], [3, 5, 4], [13, 11, 5], [31, 17, 8], [64, 48, 4]];
// More than 65535 workgroups of 64 pixels, so the launch folds over y (nearest only: the folding is
// shared). Its 5.3M pixels are compared as one hash per row, small enough to leave the browser.
const FOLDED: [number, number, number] = [257, 255, 9];

export const cases: KernelCase[] = [
  ...detokenizeShapes.map(([h, w, k, p, first], i): KernelCase => ({
    name: `detokenize/${h}x${w}/K${k}/p${p}`,
    tolerance: { abs: 0, rel: 0 },
    async run(gpu) {
      const rng = new Rng(900 + i);
      // Mostly valid tokens, plus ids just outside the codebook on both sides and −1 (not generated yet).
      const ids = rng.int(h * w, first - 2, first + k + 2);
      if (h * w > 1) ids[0] = -1;
      ids[h * w - 1] = first + k - 1; // the last codebook entry, so no grid is all invalid
      const codebook = new Uint32Array(k * p * p).map(() => (rng.next() * 2 ** 32) >>> 0);
      const tokens = gpu.upload(ids, [h, w], 'i32');
      const book = gpu.upload(codebook, [k, p, p], 'u32');
      const out = detokenize(gpu, tokens, book, first);
      const got = (await out.download()) as Uint32Array;
      [tokens, book, out].forEach((t) => t.destroy());
      return { got: bytes(got), want: bytes(detokenizeRef(ids, h, w, codebook, k, p, first)) };
    },
  })),
  ...(['nearest', 'bilinear'] as const).flatMap((mode) =>
    upsampleShapes.map(([h, w, s], i): KernelCase => ({
      name: `upsample/${mode}/${h}x${w}/x${s}`,
      tolerance: { abs: mode === 'bilinear' && (s & (s - 1)) !== 0 ? 1 : 0, rel: 0 },
      async run(gpu) {
        const rng = new Rng(950 + i);
        const pixels = new Uint32Array(h * w).map(() => (rng.next() * 2 ** 32) >>> 0);
        const image = gpu.upload(pixels, [h, w], 'u32');
        const out = upsample(gpu, image, s, mode);
        const got = (await out.download()) as Uint32Array;
        [image, out].forEach((t) => t.destroy());
        return { got: bytes(got), want: bytes(upsampleRef(pixels, h, w, s, mode)) };
      },
    })),
  ),
  {
    name: `upsample/nearest/${FOLDED[0]}x${FOLDED[1]}/x${FOLDED[2]} (row hashes)`,
    tolerance: { abs: 0, rel: 0 },
    async run(gpu) {
      const [h, w, s] = FOLDED;
      const rng = new Rng(990);
      const pixels = new Uint32Array(h * w).map(() => (rng.next() * 2 ** 32) >>> 0);
      const image = gpu.upload(pixels, [h, w], 'u32');
      const out = upsample(gpu, image, s, 'nearest');
      const got = (await out.download()) as Uint32Array;
      [image, out].forEach((t) => t.destroy());
      return { got: rowHashes(got, h * s, w * s), want: rowHashes(upsampleRef(pixels, h, w, s, 'nearest'), h * s, w * s) };
    },
  },
];
