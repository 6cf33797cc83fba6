// matmul with a weight larger than one storage binding: GPT-2 small's tied LM head, 50257 × 768
// fp32 = 154 MB > 128 MiB. The split is also covered, on small shapes, by lowered binding limits
// in test/kernels/matmul.cases.ts; this file checks it once at full size (about 10–20 s).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { matmul } from '../src/ops/matmul.ts';
import { testDevice } from './util/gpu.ts';
import { matmulRef } from './util/reference.ts';
import { Rng } from './util/rng.ts';

const VOCAB = 50257, D = 768;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

function maxError(got: Float32Array, want: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  return worst;
}

describe('matmul with a b larger than maxStorageBufferBindingSize', () => {
  const rng = new Rng(77);
  const weight = rng.normal(VOCAB * D, 0.02);

  for (const transposeB of [true, false]) {
    test(`LM head ${transposeB ? '[50257, 768] transposed' : '[768, 50257]'}, M = 1 and M = 3`, async () => {
      expect(weight.byteLength).toBeGreaterThan(gpu.limits.maxStorageBufferBindingSize);
      const b = gpu.upload(weight, transposeB ? [VOCAB, D] : [D, VOCAB]);
      for (const M of [1, 3]) {
        const av = rng.normal(M * D);
        const a = gpu.upload(av, [M, D]);
        const out = matmul(gpu, a, b, { transposeB });
        const got = (await out.download()) as Float32Array;
        a.destroy();
        out.destroy();
        const want = matmulRef(av, weight, { batch: 1, M, N: VOCAB, K: D, transposeB });
        expect(maxError(got, want)).toBeLessThan(1e-4);
      }
      b.destroy();
    }, 120_000);
  }
});
