import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { judge } from './kernels/case.ts';
import { allCases } from './kernels/index.ts';
import { createDevice } from '../src/device/gpu.ts';
import { testDevice } from './util/gpu.ts';

let gpu: Gpu;
let plainGpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
  plainGpu = await createDevice({ disableFeatures: ['subgroups'] });
});
afterAll(() => {
  gpu?.destroy();
  plainGpu?.destroy();
});

describe('kernels vs CPU reference (Node, lavapipe)', () => {
  for (const c of allCases) {
    test(c.name, async () => {
      const { got, want } = await c.run(gpu);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});

// Kernels whose subgroup path lavapipe takes run once more on a device made without subgroups,
// the path adapters without them take (matmul and the row reductions have tests of their own).
describe('kernels vs CPU reference without subgroups (Node, lavapipe)', () => {
  for (const c of allCases.filter((c) => c.name.startsWith('llamaDecodeStep/'))) {
    test(c.name, async () => {
      const { got, want } = await c.run(plainGpu);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});
