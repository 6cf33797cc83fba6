import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { judge, type KernelCase } from './kernels/case.ts';
import { allCases } from './kernels/index.ts';
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

/** One test per case, run on the device `device()` returns once the tests start. */
function testCases(cases: KernelCase[], device: () => Gpu): void {
  for (const c of cases) {
    test(c.name, async () => {
      const { got, want } = await c.run(device());
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
}

describe('kernels vs CPU reference (Node, lavapipe)', () => testCases(allCases, () => gpu));

// Kernels whose subgroup path lavapipe takes run once more on a device made without subgroups,
// the path adapters without them take (matmul and the row reductions have tests of their own).
describe('kernels vs CPU reference without subgroups (Node, lavapipe)', () =>
  testCases(allCases.filter((c) => c.name.startsWith('llamaDecodeStep/')), () => plainGpu));
