// The row reductions (layernorm, rmsnorm, softmax, argmax, topk) on an adapter without
// subgroups: rows reduce by a tree over workgroup memory, several short rows per workgroup.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { judge } from './kernels/case.ts';
import { cases as layerNormCases } from './kernels/layernorm.cases.ts';
import { cases as softmaxCases } from './kernels/softmax.cases.ts';
import { cases as argmaxCases } from './kernels/argmax.cases.ts';

let plainGpu: Gpu;
beforeAll(async () => {
  plainGpu = await createDevice({ disableFeatures: ['subgroups'] });
});
afterAll(() => plainGpu?.destroy());

describe('row reductions without subgroups (workgroup tree reductions)', () => {
  const picked = [...layerNormCases, ...softmaxCases, ...argmaxCases].filter((c) =>
    /^(layernorm|rmsnorm)\/(plain|residual)\/(5x3|7x768|3x4099|37x64|19x6)$|^layernorm\/plain\/4x768\/mean100|^softmax\/(7x17|3x1000|37x64|70x5)$|^argmax\/(5x17|4x1000|70x31)$|^topk\/k(3\/ties\/4x17|10\/ties\/2x1000|4\/ties\/37x20)$/.test(c.name));
  test('the selection covers every kernel', () => expect(picked.length).toBeGreaterThanOrEqual(30));
  for (const c of picked) {
    test(c.name, async () => {
      expect(plainGpu.hasSubgroups).toBe(false);
      const { got, want } = await c.run(plainGpu);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});
