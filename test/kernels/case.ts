import type { Gpu } from '../../src/device/gpu.ts';

/**
 * One kernel check: run on the GPU, compare with a float64 CPU (or PyTorch) reference.
 * Cases use no Node APIs, so the same list runs in Node (kernels.test.ts) and in
 * headless Chromium (browser.test.ts), whose outputs are also compared with Node's.
 */
export interface KernelCase {
  /** `op/variant/shape`, unique. */
  name: string;
  /** Passes when |got − want| ≤ abs + rel·|want| everywhere. */
  tolerance: { abs: number; rel: number };
  run(gpu: Gpu): Promise<{ got: ArrayLike<number>; want: ArrayLike<number> }>;
  /** Set for outputs that may legitimately be all zero (e.g. an argmax over index 0). */
  allowAllZero?: boolean;
}

export interface CaseVerdict {
  ok: boolean;
  maxAbsError: number;
  message: string;
}

export function judge(c: KernelCase, got: ArrayLike<number>, want: ArrayLike<number>): CaseVerdict {
  if (got.length !== want.length) return { ok: false, maxAbsError: Infinity, message: `${c.name}: got ${got.length} values, want ${want.length}` };
  let maxAbsError = 0, worst = -1, allZero = true;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!Number.isFinite(g) && g !== w) return { ok: false, maxAbsError: Infinity, message: `${c.name}: non-finite output ${g} at ${i} (want ${w})` };
    if (g !== 0) allZero = false;
    const err = Math.abs(g - w);
    if (err > maxAbsError) maxAbsError = err;
    if (err > c.tolerance.abs + c.tolerance.rel * Math.abs(w) && worst < 0) worst = i;
  }
  if (allZero && got.length > 0 && !c.allowAllZero) return { ok: false, maxAbsError, message: `${c.name}: output is all zeros` };
  if (worst >= 0) return { ok: false, maxAbsError, message: `${c.name}: at ${worst} got ${got[worst]} want ${want[worst]} (max abs error ${maxAbsError.toExponential(2)})` };
  return { ok: true, maxAbsError, message: `${c.name}: max abs error ${maxAbsError.toExponential(2)}` };
}
