import { add, mul } from '../../src/ops/binary.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

const shapes: [number[], number[]][] = [
  [[1], [1]],
  [[7, 13], [13]],
  [[3, 5, 257], [5, 257]],
  [[1031], [1031]],
];

export const cases: KernelCase[] = shapes.flatMap(([aShape, bShape], i) =>
  (['add', 'mul'] as const).map((op): KernelCase => ({
    name: `binary/${op}/${aShape.join('x')}+${bShape.join('x')}`,
    tolerance: { abs: 1e-6, rel: 1e-6 },
    async run(gpu) {
      const rng = new Rng(100 + i);
      const n = aShape.reduce((x, y) => x * y), m = bShape.reduce((x, y) => x * y);
      const av = rng.normal(n), bv = rng.normal(m);
      const a = gpu.upload(av, aShape), b = gpu.upload(bv, bShape);
      const out = (op === 'add' ? add : mul)(gpu, a, b);
      const got = await out.download();
      [a, b, out].forEach((t) => t.destroy());
      const want = Array.from(av, (x, j) => (op === 'add' ? x + bv[j % m]! : x * bv[j % m]!));
      return { got, want };
    },
  })),
);
