// Bad inputs to the smaller kernels fail in `infer`, before any GPU work, with errors that
// name the op, the input and the shapes.
import { describe, expect, test } from 'vitest';
import { LimitError, ShapeError } from '../src/device/errors.ts';
import type { DType } from '../src/device/dtype.ts';
import { argmaxOp } from '../src/ops/argmax.ts';
import { embeddingChunkRows, embeddingOp } from '../src/ops/embedding.ts';
import { layerNormOp, rmsNormOp } from '../src/ops/layernorm.ts';
import { llamaDecodeStepOp, llamaDecodeStepSize, type LlamaStepShape, type LlamaStepTexture } from '../src/ops/llama-decode-step.ts';
import { patchEmbedOp } from '../src/ops/patch-embed.ts';
import { ropeOp } from '../src/ops/rope.ts';
import { softmaxOp } from '../src/ops/softmax.ts';
import { topKOp } from '../src/ops/topk.ts';
import { unaryOp, type UnaryFn } from '../src/ops/unary.ts';

const spec = (shape: number[], dtype: DType = 'f32') => ({ shape, dtype });

describe('shape inference', () => {
  test('norms give `sum` only with a residual', () => {
    const x = spec([2, 5, 768]), w = spec([768]);
    expect(Object.keys(layerNormOp.infer({ x, weight: w, bias: w }, { eps: 1e-5 }))).toEqual(['out']);
    expect(Object.keys(rmsNormOp.infer({ x, weight: w, residual: x }, { eps: 1e-5 })).sort()).toEqual(['out', 'sum']);
  });
  test('embedding, patch embedding, top-k output shapes', () => {
    expect(embeddingOp.infer({ ids: spec([2, 7], 'i32'), table: spec([50, 3]) }, {}).out!.shape).toEqual([2, 7, 3]);
    expect(patchEmbedOp.infer({ image: spec([2, 3, 224, 224]), weight: spec([768, 3, 16, 16]), bias: spec([768]) }, { patchSize: 16 }).out!.shape).toEqual([2, 196, 768]);
    const topk = topKOp.infer({ x: spec([3, 50257]) }, { k: 40 });
    expect([topk.values!.shape, topk.indices!.dtype]).toEqual([[3, 40], 'i32']);
    expect(argmaxOp.infer({ x: spec([3, 50257]) }, {}).out).toEqual({ shape: [3], dtype: 'i32' });
  });
});

describe('bad inputs', () => {
  test('layernorm: weight of the wrong width', () => {
    expect(() => layerNormOp.infer({ x: spec([4, 17]), weight: spec([16]), bias: spec([17]) }, { eps: 1e-5 })).toThrow(
      new ShapeError("layernorm: input 'weight' has shape [16], expected [17]"),
    );
  });
  test('layernorm: missing bias, residual of another shape', () => {
    expect(() => layerNormOp.infer({ x: spec([4, 17]), weight: spec([17]) }, { eps: 1e-5 })).toThrow("layernorm: missing input 'bias'");
    expect(() => rmsNormOp.infer({ x: spec([4, 17]), weight: spec([17]), residual: spec([17]) }, { eps: 1e-5 })).toThrow(
      "rmsnorm: input 'residual' has shape [17], expected [4, 17]",
    );
  });
  test('norms: rows too long for the register-resident kernel', () => {
    expect(() => rmsNormOp.infer({ x: spec([1, 8193]), weight: spec([8193]) }, { eps: 1e-5 })).toThrow(LimitError);
  });
  test('unary: unknown function, wrong dtype', () => {
    expect(() => unaryOp.infer({ x: spec([3]) }, { fn: 'tanh' as UnaryFn })).toThrow("unary: unknown function 'tanh'");
    expect(() => unaryOp.infer({ x: spec([3], 'i32') }, { fn: 'relu' })).toThrow("relu: input 'x' has dtype i32, expected f32");
  });
  test('softmax of a scalar', () => {
    expect(() => softmaxOp.infer({ x: spec([]) }, {})).toThrow(ShapeError);
  });
  test('embedding: float ids, position offset without a positions table, width mismatch', () => {
    expect(() => embeddingOp.infer({ ids: spec([7]), table: spec([50, 3]) }, {})).toThrow("embedding: input 'ids' has dtype f32, expected i32");
    expect(() => embeddingOp.infer({ ids: spec([7], 'i32'), table: spec([50, 3]), position: spec([1], 'u32') }, {})).toThrow(
      "embedding: input 'position' (the position offset) needs a 'positions' table",
    );
    expect(() => embeddingOp.infer({ ids: spec([7], 'i32'), table: spec([50, 3]), positions: spec([9, 4]) }, {})).toThrow(
      'embedding: positions [9, 4] and table [50, 3] differ in width',
    );
  });
  test('embedding: chunks of a big table start at aligned offsets', () => {
    // GPT-2 XL: 50257 × 1600 floats = 322 MB > 128 MiB.
    const rows = embeddingChunkRows(1600, 128 * 2 ** 20, 256);
    expect((rows * 1600 * 4) % 256).toBe(0);
    expect(rows * 1600 * 4).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(Math.ceil(50257 / rows)).toBe(3);
    expect(embeddingChunkRows(17, 64 * 68, 256)).toBe(64); // 68-byte rows: offsets align every 64 rows
    expect(() => embeddingChunkRows(1000, 3000, 256)).toThrow(LimitError);
  });
  test('rope: odd head dimension, width not numHeads·headDim', () => {
    expect(() => ropeOp.infer({ x: spec([1, 3, 15]) }, { numHeads: 3, headDim: 5, theta: 1e4 })).toThrow('rope: headDim must be a positive even integer, got 5');
    expect(() => ropeOp.infer({ x: spec([1, 3, 16]) }, { numHeads: 3, headDim: 6, theta: 1e4 })).toThrow(
      "rope: input 'x' has shape [1, 3, 16], expected last dim numHeads·headDim = 3·6 = 18",
    );
  });
  test('patch_embed: image not a multiple of the patch, weight of another patch size', () => {
    expect(() => patchEmbedOp.infer({ image: spec([1, 3, 30, 32]), weight: spec([8, 3, 16, 16]), bias: spec([8]) }, { patchSize: 16 })).toThrow(
      'patch_embed: image [1, 3, 30, 32] has H×W = 30×32, not a multiple of the patch size 16',
    );
    expect(() => patchEmbedOp.infer({ image: spec([1, 3, 32, 32]), weight: spec([8, 3, 8, 8]), bias: spec([8]) }, { patchSize: 16 })).toThrow(
      "patch_embed: input 'weight' has shape [8, 3, 8, 8], expected [8, 3, 16, 16]",
    );
  });
  test('topk: k larger than the row, or than the kernel supports', () => {
    expect(() => topKOp.infer({ x: spec([2, 5]) }, { k: 6 })).toThrow('topk: k = 6 must be an integer in [1, V] for x [2, 5]');
    expect(() => topKOp.infer({ x: spec([2, 500]) }, { k: 200 })).toThrow(new LimitError("topk: k = 200 exceeds this kernel's limit of 128"));
  });
  test('llamaDecodeStep: a weight texture packed for another shape, greedy inputs given in part or of the wrong type', () => {
    const shape: LlamaStepShape = { vocabSize: 97, dim: 24, hiddenDim: 37, numLayers: 2, numHeads: 3, numKVHeads: 1, headDim: 8, eps: 1e-5, ropeTheta: 10000 };
    const size = llamaDecodeStepSize(shape);
    // infer reads only the texture's size, so a stand-in of the right size serves (no GPU here).
    const texture = (floats: number) => ({ texels: floats / 4 }) as LlamaStepTexture;
    const state = { kCache: spec([2, 17, 8]), vCache: spec([2, 17, 8]), ids: spec([1, 1], 'i32'), position: spec([1], 'u32') };
    const greedy = { kvLength: spec([1], 'u32'), history: spec([18], 'i32'), steps: spec([1], 'u32') };
    expect(llamaDecodeStepOp.infer({ ...state, ...greedy }, { shape, weights: texture(size) }).logits!.shape).toEqual([1, 97]);
    expect(() => llamaDecodeStepOp.infer(state, { shape, weights: texture(size - 4) })).toThrow(
      new ShapeError(`llamaDecodeStep: the weight texture holds ${size - 4} floats; a model of this shape packs into ${size}`),
    );
    expect(() => llamaDecodeStepOp.infer({ ...state, kvLength: greedy.kvLength, history: greedy.history }, { shape, weights: texture(size) })).toThrow(
      "llamaDecodeStep: give all of 'kvLength', 'history' and 'steps' (to decode greedily) or none",
    );
    expect(() => llamaDecodeStepOp.infer({ ...state, ...greedy, steps: spec([2], 'u32') }, { shape, weights: texture(size) })).toThrow(
      "llamaDecodeStep: input 'steps' has shape [2], expected [1]",
    );
    expect(() => llamaDecodeStepOp.infer({ ...state, ...greedy, steps: spec([1], 'i32') }, { shape, weights: texture(size) })).toThrow(
      "llamaDecodeStep: input 'steps' has dtype i32, expected u32",
    );
  });
});
