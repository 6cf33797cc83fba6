import { classToken } from '../../src/ops/class-token.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

/** out[b, 0] = cls + pos[0]; out[b, t] = patches[b, t − 1] + pos[t], in float64. */
function classTokenRef(patches: Float32Array, cls: Float32Array, positions: Float32Array, b: number, n: number, d: number): Float64Array {
  const out = new Float64Array(b * (n + 1) * d);
  for (let i = 0; i < b; i++) {
    for (let t = 0; t <= n; t++) {
      for (let j = 0; j < d; j++) {
        const x = t === 0 ? cls[j]! : patches[(i * n + t - 1) * d + j]!;
        out[(i * (n + 1) + t) * d + j] = x + positions[t * d + j]!;
      }
    }
  }
  return out;
}

// [B, N, D]: one patch, one channel, primes, and a grid whose elements exceed one workgroup row many times.
const variants: [number, number, number][] = [
  [1, 1, 1],
  [3, 4, 7],
  [2, 49, 13],
  [5, 196, 37],
];

export const cases: KernelCase[] = variants.map(([b, n, d], i): KernelCase => ({
  name: `class_token/${b}x${n}x${d}`,
  tolerance: { abs: 1e-6, rel: 1e-6 },
  async run(gpu) {
    const rng = new Rng(900 + i);
    const pv = rng.normal(b * n * d), cv = rng.normal(d), qv = rng.normal((n + 1) * d);
    const patches = gpu.upload(pv, [b, n, d]), cls = gpu.upload(cv, [1, 1, d]), positions = gpu.upload(qv, [1, n + 1, d]);
    const out = classToken(gpu, patches, cls, positions);
    const got = await out.download();
    [patches, cls, positions, out].forEach((t) => t.destroy());
    return { got, want: classTokenRef(pv, cv, qv, b, n, d) };
  },
}));
