import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { judge } from './kernels/case.ts';
import { allCases } from './kernels/index.ts';
import { testDevice } from './util/gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe('kernels vs CPU reference (Node, lavapipe)', () => {
  for (const c of allCases) {
    test(c.name, async () => {
      const { got, want } = await c.run(gpu);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});
