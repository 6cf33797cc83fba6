import { unary, type UnaryFn } from '../../src/ops/unary.ts';
import { unaryRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

const fns: UnaryFn[] = ['gelu_tanh', 'gelu_erf', 'silu', 'relu'];
const shapes = [[1], [7, 13], [3, 1031]];

/** Inputs spread over [−8, 8] plus the extremes, so both branches of erf and the tails of tanh/exp are hit. */
function inputs(rng: Rng, n: number): Float32Array {
  const x = rng.uniform(n, -8, 8);
  if (n > 4) x.set([0, -0.927734375, 30, -30]);
  return x;
}

export const cases: KernelCase[] = fns.flatMap((fn, f) =>
  shapes.map((shape, s): KernelCase => ({
    name: `unary/${fn}/${shape.join('x')}`,
    tolerance: { abs: 5e-7, rel: 1e-6 },
    async run(gpu) {
      const n = shape.reduce((a, b) => a * b);
      const xv = inputs(new Rng(200 + 10 * f + s), n);
      if (n === 1) xv[0] = 0.75;
      const x = gpu.upload(xv, shape);
      const out = unary(gpu, x, fn);
      const got = await out.download();
      x.destroy();
      out.destroy();
      return { got, want: Array.from(xv, (v) => unaryRef(fn, v)) };
    },
  })),
);

/** erf itself through gelu_erf on a fine grid: 2·gelu(x)/x − 1 = erf(x/√2), checked where that is well conditioned. */
cases.push({
  name: 'unary/gelu_erf/erf-grid',
  tolerance: { abs: 2e-7, rel: 2e-7 },
  async run(gpu) {
    const xv = Float32Array.from({ length: 4001 }, (_, i) => -10 + i * 0.005);
    const x = gpu.upload(xv);
    const out = unary(gpu, x, 'gelu_erf');
    const got = await out.download();
    x.destroy();
    out.destroy();
    return { got, want: Array.from(xv, (v) => unaryRef('gelu_erf', v)) };
  },
});
