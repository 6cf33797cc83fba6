import { softmax } from '../../src/ops/softmax.ts';
import { softmaxRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// 37x64 and 70x5 leave the last workgroup of several rows part-filled.
const shapes: [number, number][] = [[1, 1], [4, 3], [7, 17], [5, 768], [3, 1000], [2, 50257], [37, 64], [70, 5]];

export const cases: KernelCase[] = shapes.map(([rows, d], i): KernelCase => ({
  name: `softmax/${rows}x${d}`,
  tolerance: { abs: 1e-7, rel: 1e-5 },
  async run(gpu) {
    const rng = new Rng(400 + i);
    // Logits with a large offset (exp would overflow without the max subtraction) and some −inf (masked) entries.
    const xv = rng.normal(rows * d, 4, 80);
    for (let k = 1; k < xv.length; k += 5) if (k % d !== 0) xv[k] = -Infinity;
    const x = gpu.upload(xv, [rows, d]);
    const out = softmax(gpu, x);
    const got = await out.download();
    x.destroy();
    out.destroy();
    return { got, want: softmaxRef(xv, d) };
  },
}));
