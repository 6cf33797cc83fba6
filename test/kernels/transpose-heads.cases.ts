import { transposeHeads } from '../../src/ops/transpose-heads.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, X, Y, D]: ones, primes, and ViT-B's [2, 197, 12, 64].
const variants: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 5, 3, 7],
  [3, 17, 4, 10],
  [2, 197, 12, 64],
];

export const cases: KernelCase[] = variants.map(([b, x, y, d], i): KernelCase => ({
  name: `transpose_heads/${b}x${x}x${y}x${d}`,
  tolerance: { abs: 0, rel: 0 }, // pure data movement: bit-exact
  async run(gpu) {
    const v = new Rng(950 + i).normal(b * x * y * d);
    const input = gpu.upload(v, [b, x, y, d]);
    const out = transposeHeads(gpu, input);
    const got = await out.download();
    [input, out].forEach((t) => t.destroy());
    const want = new Float64Array(v.length);
    for (let bi = 0; bi < b; bi++)
      for (let xi = 0; xi < x; xi++)
        for (let yi = 0; yi < y; yi++)
          for (let di = 0; di < d; di++) want[((bi * y + yi) * x + xi) * d + di] = v[((bi * x + xi) * y + yi) * d + di]!;
    return { got, want };
  },
}));
