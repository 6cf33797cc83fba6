import { argmax } from '../../src/ops/argmax.ts';
import { topK } from '../../src/ops/topk.ts';
import { argmaxRef, topKRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

/** Rows of logits with planted ties: a repeated maximum, and (when wide enough) blocks of equal values. */
function logits(rng: Rng, rows: number, v: number, quantised: boolean): Float32Array {
  // Quantised values (multiples of 1/4 in a narrow range) make many ties among the top k.
  const x = quantised ? Float32Array.from(rng.int(rows * v, -40, 40), (q) => q / 4) : rng.normal(rows * v, 3);
  for (let r = 0; r < rows; r++) {
    if (v >= 3) {
      const a = r % v, b = v - 1 - (r % 2);
      x[r * v + a] = 50;
      x[r * v + b] = 50; // tie on the maximum: the smaller index must win
    }
  }
  return x;
}

const argmaxShapes: [number, number][] = [[1, 1], [3, 2], [5, 17], [4, 1000], [2, 50257], [70, 31]];
const topKShapes: [number, number, number, boolean][] = [
  [1, 1, 1, false], [3, 5, 5, false], [4, 17, 3, true], [2, 1000, 10, true], [2, 50257, 64, false], [3, 50257, 50, true], [5, 300, 128, true], [37, 20, 4, true],
];

export const cases: KernelCase[] = [
  ...argmaxShapes.map(([rows, v], i): KernelCase => ({
    name: `argmax/${rows}x${v}`,
    tolerance: { abs: 0, rel: 0 },
    allowAllZero: true,
    async run(gpu) {
      const xv = logits(new Rng(800 + i), rows, v, false);
      const x = gpu.upload(xv, [rows, v]);
      const out = argmax(gpu, x);
      const got = await out.download();
      x.destroy();
      out.destroy();
      return { got, want: argmaxRef(xv, v) };
    },
  })),
  ...topKShapes.map(([rows, v, k, quantised], i): KernelCase => ({
    name: `topk/k${k}${quantised ? '/ties' : ''}/${rows}x${v}`,
    tolerance: { abs: 0, rel: 0 },
    async run(gpu) {
      const xv = logits(new Rng(850 + i), rows, v, quantised);
      const x = gpu.upload(xv, [rows, v]);
      const { values, indices } = topK(gpu, x, k);
      const got = [...(await values.download()), ...(await indices.download())];
      [x, values, indices].forEach((t) => t.destroy());
      const want = topKRef(xv, v, k);
      return { got, want: [...want.values, ...want.indices] };
    },
  })),
];
