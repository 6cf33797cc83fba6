import type { Gpu } from '../../src/device/gpu.ts';
import { ShapeError } from '../../src/device/errors.ts';
import { TEACHING_MATMUL_STEPS, teachingMatmul, type TeachingMatmulVersion } from '../../src/ops/teaching-matmul.ts';
import { matmulRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [M, N, K] around every tile edge: the workgroups cover 8×8 (naive), 16×16 (tiled) and 64×64
// outputs (register-blocked, vec4), K goes 16 at a time through workgroup memory.
const anyShapes: [number, number, number][] = [
  [1, 1, 1], [1, 17, 3], [3, 1, 17], [13, 31, 7], [17, 65, 33], [64, 64, 64], [65, 63, 16], [67, 129, 67], [131, 70, 29],
];
// The vec4 kernel needs K and N to be multiples of 4; M stays odd.
const vec4Shapes: [number, number, number][] = [
  [1, 4, 4], [3, 4, 8], [13, 36, 20], [17, 68, 12], [64, 64, 64], [67, 132, 68], [131, 4, 36], [1, 260, 132],
];

function teachingCase(version: TeachingMatmulVersion, [M, N, K]: [number, number, number], seed: number): KernelCase {
  return {
    name: `teaching_matmul/${version}/${M}x${K}x${N}`,
    // fp32 accumulation: the error of a K-term dot product grows about linearly with K.
    tolerance: { abs: 1e-5 + 1e-6 * K, rel: 1e-5 },
    async run(gpu: Gpu) {
      const rng = new Rng(seed);
      const av = rng.normal(M * K);
      const bv = rng.normal(K * N, 1 / Math.sqrt(K));
      const a = gpu.upload(av, [M, K]);
      const b = gpu.upload(bv, [K, N]);
      const c = teachingMatmul(gpu, a, b, version);
      const got = await c.download();
      [a, b, c].forEach((t) => t.destroy());
      return { got, want: matmulRef(av, bv, { batch: 1, M, N, K }) };
    },
  };
}

/** The vec4 kernel refuses K or N not a multiple of 4 with a ShapeError that names the shapes. */
const vec4RejectsUnaligned: KernelCase = {
  name: 'teaching_matmul/vec4/rejects K=6 N=5',
  tolerance: { abs: 0, rel: 0 },
  async run(gpu: Gpu) {
    const a = gpu.upload(new Float32Array(3 * 6).fill(1), [3, 6]);
    const b = gpu.upload(new Float32Array(6 * 5).fill(1), [6, 5]);
    let message = '';
    try {
      teachingMatmul(gpu, a, b, 'vec4').destroy();
    } catch (err) {
      if (err instanceof ShapeError) message = err.message;
    } finally {
      a.destroy();
      b.destroy();
    }
    // 1 when the error says what is wrong and with which shapes, else 0.
    const named = /multiples of 4/.test(message) && message.includes('[3, 6]') && message.includes('[6, 5]');
    return { got: [named ? 1 : 0], want: [1] };
  },
};

let seed = 9000;
export const cases: KernelCase[] = [
  ...TEACHING_MATMUL_STEPS.flatMap((step) => (step.alignment === 4 ? vec4Shapes : anyShapes).map((shape) => teachingCase(step.version, shape, seed++))),
  vec4RejectsUnaligned,
];
