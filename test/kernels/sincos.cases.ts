import { rope } from '../../src/ops/rope.ts';
import { slice } from '../../src/ops/op.ts';
import { specialize } from '../../src/ops/shader.ts';
import { ropeRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// The sincos snippet (shaders/lib/sincos.wgsl) on its own, through a one-line test kernel:
// out[i] = sincos(x[i]), checked against float64 sin and cos of the same f32 x.
const testKernel = `
#include "lib/sincos.wgsl"
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < arrayLength(&x)) { out[gid.x] = sincos(x[gid.x]); }
}`;

/** Small angles, angles up to 1e5 (rotary angles reach the position), and the worst case for reduction: near multiples of π/2. */
function angles(rng: Rng): Float32Array {
  const nearMultiples = Array.from(rng.uniform(1000, -63000, 63000), (k) => Math.round(k) * (Math.PI / 2));
  return Float32Array.from([
    0, -0, 1e-30, Math.PI / 4, -Math.PI / 4, Math.PI / 2, Math.PI, 3 * Math.PI / 2, 4000, 30000, 99999,
    ...rng.uniform(1000, -Math.PI, Math.PI),
    ...rng.uniform(1000, -1e4, 1e4),
    ...rng.uniform(1000, -1e5, 1e5),
    ...nearMultiples,
  ]);
}

export const cases: KernelCase[] = [{
  name: 'sincos/direct/5011',
  tolerance: { abs: 2e-7, rel: 0 },
  async run(gpu) {
    const xv = angles(new Rng(700));
    const x = gpu.upload(xv);
    const out = gpu.empty([xv.length, 2]);
    const kernel = 'sincos_test';
    gpu.run([{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, testKernel, {})),
      bindings: [slice(x), slice(out)],
      workgroups: [Math.ceil(xv.length / 64)],
    }]);
    const got = await out.download();
    x.destroy();
    out.destroy();
    return { got, want: Array.from(xv).flatMap((v) => [Math.sin(v), Math.cos(v)]) };
  },
}];

// RoPE at large positions. With θ = 2^12 and D = 8, the frequencies θ^(−2i/D) = 2^(−3i) and the
// angles p·2^(−3i) are exact in f32, so the float64 reference isolates the error of sin and cos.
// With θ = 10000 the f32 angle itself is off by a few ulp of p·θ^(−2i/D), ≈ p·1e-7 rad, which
// the tolerance has to allow (PyTorch's f32 rotary embedding rounds the same way).
// [B, T, H, D, θ, offset, abs tolerance]
const ropeVariants: [number, number, number, number, number, number, number][] = [
  [1, 5, 2, 8, 4096, 4000, 5e-7],
  [2, 3, 3, 8, 4096, 30000, 5e-7],
  [1, 4, 2, 64, 10000, 4000, 4000 * 4e-7],
  [1, 3, 2, 128, 500000, 30000, 30000 * 4e-7],
];

for (const [b, t, h, d, theta, offset, abs] of ropeVariants) {
  cases.push({
    name: `sincos/rope/theta${theta}/offset${offset}/${b}x${t}x${h}x${d}`,
    tolerance: { abs, rel: 0 },
    async run(gpu) {
      const xv = new Rng(710 + offset + d).normal(b * t * h * d);
      const x = gpu.upload(xv, [b, t, h * d]);
      const position = gpu.upload(new Uint32Array([offset]));
      const out = rope(gpu, x, { numHeads: h, headDim: d, theta }, position);
      const got = await out.download();
      [x, out, position].forEach((y) => y.destroy());
      return { got, want: ropeRef(xv, t, h, d, theta, offset) };
    },
  });
}
