// matmul beyond the kernel cases: the path for adapters without subgroups, and bad inputs.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { LimitError, ShapeError } from '../src/device/errors.ts';
import { matmul } from '../src/ops/matmul.ts';
import { judge } from './kernels/case.ts';
import { cases } from './kernels/matmul.cases.ts';

let gpu: Gpu;
let plainGpu: Gpu;
beforeAll(async () => {
  gpu = await createDevice();
  plainGpu = await createDevice({ disableFeatures: ['subgroups'] });
});
afterAll(() => {
  gpu?.destroy();
  plainGpu?.destroy();
});

describe('matmul without subgroups (each invocation reads its rows of a itself)', () => {
  const picked = cases.filter((c) => /^matmul\/bt?\/(129x129x129|67x17x129|9x36x260|2x3x17x20x13\/batched_b|3x36x64|5x129x67|16x20x65|3x5x7x13\/batched_b)$|gelu_erf\/residual$/.test(c.name));
  test('the selection covers both layouts', () => expect(picked.length).toBeGreaterThanOrEqual(8));
  for (const c of picked) {
    test(c.name, async () => {
      expect(plainGpu.hasSubgroups).toBe(false);
      const { got, want } = await c.run(plainGpu);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});

describe('matmul input errors', () => {
  test('K mismatch names both shapes', () => {
    const a = gpu.empty([4, 5]), b = gpu.empty([6, 3]);
    expect(() => matmul(gpu, a, b)).toThrow(ShapeError);
    expect(() => matmul(gpu, a, b)).toThrow(/a \[4, 5\] has K = 5 but b \[6, 3\], read as \[K, N\], has K = 6/);
    expect(() => matmul(gpu, a, b, { transposeB: true })).toThrow(/read as \[N, K\] \(transposeB\), has K = 3/);
    a.destroy();
    b.destroy();
  });

  test('bias and residual shapes are checked', () => {
    const a = gpu.empty([4, 5]), b = gpu.empty([5, 3]), bias = gpu.empty([4]), residual = gpu.empty([3, 4]);
    expect(() => matmul(gpu, a, b, { bias })).toThrow(/matmul: input 'bias' has shape \[4\], expected \[3\]/);
    expect(() => matmul(gpu, a, b, { residual })).toThrow(/matmul: input 'residual' has shape \[3, 4\], expected \[4, 3\]/);
    [a, b, bias, residual].forEach((t) => t.destroy());
  });

  test('batched b must match a’s batch dimensions', () => {
    const a = gpu.empty([2, 4, 5]), b = gpu.empty([3, 5, 3]);
    expect(() => matmul(gpu, a, b)).toThrow(/b \[3, 5, 3\] must be 2-D or have a's batch dimensions \[2\]/);
    a.destroy();
    b.destroy();
  });

  test('a batched b too large for one binding is a LimitError', () => {
    const a = gpu.empty([2, 4, 64]), b = gpu.empty([2, 64, 64]);
    expect(() => matmul(gpu, a, b, { maxBindingBytes: 4096 })).toThrow(LimitError);
    expect(() => matmul(gpu, a, b, { maxBindingBytes: 4096 })).toThrow(/only a 2-D b can be split/);
    a.destroy();
    b.destroy();
  });
});
