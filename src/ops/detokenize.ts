import type { Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/detokenize.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface DetokenizeAttrs {
  /** Vocabulary id of codebook entry 0: token t is patch t − firstToken. */
  firstToken: number;
}

/**
 * Image tokens i32 [H, W] → RGBA8 pixels u32 [H·p, W·p], through a codebook u32 [K, p, p] of packed
 * RGBA8 patches. Tokens outside [firstToken, firstToken + K) give transparent black.
 */
export const detokenizeOp: OpDef<DetokenizeAttrs> = {
  name: 'detokenize',
  infer(inputs, { firstToken }) {
    const tokens = required('detokenize', inputs, 'tokens');
    const codebook = required('detokenize', inputs, 'codebook');
    expectDType('detokenize', 'tokens', tokens, 'i32');
    expectDType('detokenize', 'codebook', codebook, 'u32');
    expectRank('detokenize', 'tokens', tokens, 2);
    expectRank('detokenize', 'codebook', codebook, 3);
    const [h, w] = tokens.shape as [number, number];
    const [, p, q] = codebook.shape as [number, number, number];
    if (p !== q) throw new ShapeError(`detokenize: codebook ${formatShape(codebook.shape)} must be [K, p, p] (square patches)`);
    if (!Number.isInteger(firstToken) || firstToken < 0 || firstToken > 0x7fffffff) {
      throw new ShapeError(`detokenize: firstToken must be a non-negative 32-bit integer, got ${firstToken}`);
    }
    return { out: { shape: [h * p, w * p], dtype: 'u32' } };
  },
  plan(gpu, inputs, outputs, { firstToken }) {
    const tokens = inputs.tokens!, codebook = inputs.codebook!;
    const [, w] = tokens.shape as [number, number];
    const [k, p] = codebook.shape as [number, number];
    const [outHeight, outWidth] = outputs.out!.shape as [number, number];
    const count = outHeight * outWidth;
    const workgroup = gpu.tuning.elementwise.imageWorkgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    return [{
      kernel: 'detokenize',
      pipeline: gpu.pipeline('detokenize', specialize('detokenize', source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(outHeight).u32(outWidth).u32(w).u32(p).u32(k).i32(firstToken).u32(gx * workgroup).finish(),
      bindings: [slice(tokens), slice(codebook), slice(outputs.out!)],
      workgroups: [gx, gy],
      flops: 0,
      bytes: 12 * count,
    }];
  },
  cost(inputs) {
    const [h, w] = inputs.tokens!.shape as [number, number];
    const p = inputs.codebook!.shape[1]!;
    return { flops: 0, bytes: 12 * h * w * p * p };
  },
};

export function detokenize(gpu: Gpu, tokens: Tensor, codebook: Tensor, firstToken: number): Tensor {
  return runOp(gpu, detokenizeOp, { tokens, codebook }, { firstToken }).out!;
}
