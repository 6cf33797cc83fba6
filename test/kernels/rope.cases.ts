import { rope } from '../../src/ops/rope.ts';
import { ropeRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, T, H, D, θ, offset]: offset undefined means no `position` input.
const variants: [number, number, number, number, number, number | undefined][] = [
  [1, 1, 1, 2, 10000, undefined],
  [1, 7, 3, 6, 10000, undefined],
  [2, 5, 4, 64, 10000, 0],
  [1, 1, 5, 34, 500000, 131],
  [3, 13, 2, 128, 10000, 17],
];

export const cases: KernelCase[] = variants.map(([b, t, h, d, theta, offset], i): KernelCase => ({
  name: `rope/${offset === undefined ? 'static' : `offset${offset}`}/${b}x${t}x${h}x${d}`,
  // f32 angles p·θ^(−2i/D) carry a relative error of a few ulp, i.e. ~1e-5 rad at p ≈ 150.
  tolerance: { abs: 3e-5, rel: 1e-5 },
  async run(gpu) {
    const xv = new Rng(600 + i).normal(b * t * h * d);
    const x = gpu.upload(xv, [b, t, h * d]);
    const position = offset === undefined ? undefined : gpu.upload(new Uint32Array([offset]));
    const out = rope(gpu, x, { numHeads: h, headDim: d, theta }, position);
    const got = await out.download();
    [x, out, ...(position ? [position] : [])].forEach((y) => y.destroy());
    return { got, want: ropeRef(xv, t, h, d, theta, offset ?? 0) };
  },
}));
