import { layerNorm, rmsNorm } from '../../src/ops/layernorm.ts';
import { layerNormRef, rmsNormRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

/** [rows, D]: D = 1 and odd D take the scalar path, multiples of 4 the vec4 path; long rows need several
 * registers per lane; 37x64 and 19x6 leave the last workgroup of several rows part-filled. */
const shapes: [number, number][] = [[1, 1], [5, 3], [3, 17], [7, 768], [2, 1000], [3, 4099], [1, 5000], [37, 64], [19, 6], [2, 20000]];

function norm(kind: 'layernorm' | 'rmsnorm', rows: number, d: number, seed: number, withResidual: boolean, mean = 0, std = 1): KernelCase {
  return {
    name: `${kind}/${withResidual ? 'residual' : 'plain'}/${rows}x${d}${mean ? `/mean${mean}-std${std}` : ''}`,
    // The same tolerance for rows with mean 100 and std 1e-2: the shifted two-pass statistics
    // lose nothing to the large mean (the error is ~5e-7 on lavapipe, as for plain rows).
    tolerance: { abs: 2e-5, rel: 2e-5 },
    async run(gpu) {
      const rng = new Rng(seed);
      const xv = rng.normal(rows * d, std, mean);
      const rv = withResidual ? rng.normal(rows * d) : undefined;
      const wv = rng.normal(d, 0.5, 1), bv = rng.normal(d, 0.5);
      const x = gpu.upload(xv, [rows, d]), weight = gpu.upload(wv), bias = gpu.upload(bv);
      const residual = rv ? gpu.upload(rv, [rows, d]) : undefined;
      const eps = 1e-5;
      const { out, sum } = kind === 'layernorm' ? layerNorm(gpu, x, weight, bias, eps, residual) : rmsNorm(gpu, x, weight, eps, residual);
      const got = [...(await out.download())];
      // h as the kernel sees it: the f32 sum of x and residual.
      const h = rv ? Float32Array.from(xv, (v, i) => v + rv[i]!) : xv;
      const want = [...(kind === 'layernorm' ? layerNormRef(h, wv, bv, d, eps) : rmsNormRef(h, wv, d, eps))];
      if (sum) {
        got.push(...(await sum.download()));
        want.push(...h);
        sum.destroy();
      }
      [x, weight, bias, out, ...(residual ? [residual] : [])].forEach((t) => t.destroy());
      return { got, want };
    },
  };
}

export const cases: KernelCase[] = [
  ...shapes.flatMap(([rows, d], i) => [
    norm('layernorm', rows, d, 300 + i, false),
    norm('layernorm', rows, d, 310 + i, true),
    norm('rmsnorm', rows, d, 320 + i, false),
    norm('rmsnorm', rows, d, 330 + i, true),
  ]),
  // Large mean, small spread: E[x²] − E[x]² would cancel to garbage here.
  norm('layernorm', 4, 768, 340, false, 100, 1e-2),
  norm('layernorm', 3, 1001, 341, false, 100, 1e-2),
  norm('layernorm', 2, 17, 342, false, -1000, 1e-1),
];
