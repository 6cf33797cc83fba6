import { describe, expect, test } from 'vitest';
import { LimitError, ShapeError } from '../src/device/errors.ts';
import { attentionOp } from '../src/ops/attention.ts';
import type { TensorSpec } from '../src/ops/op.ts';

const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: 'f32' });
const u32 = (...shape: number[]): TensorSpec => ({ shape, dtype: 'u32' });
const attrs = { numHeads: 4, numKVHeads: 2, headDim: 8 };
const good = { q: f32(2, 5, 32), k: f32(2, 7, 16), v: f32(2, 7, 16) };

describe('attention: bad input is reported clearly', () => {
  test('shapes of a valid call', () => {
    const out = attentionOp.infer({ ...good, keyMask: u32(2, 7), kvLength: u32(1) }, { ...attrs, returnProbs: true });
    expect(out.out!.shape).toEqual([2, 5, 32]);
    expect(out.probs!.shape).toEqual([2, 4, 5, 7]);
  });
  test('q rows that are not numHeads·headDim', () => {
    expect(() => attentionOp.infer({ ...good, q: f32(2, 5, 30) }, attrs)).toThrow(ShapeError);
    expect(() => attentionOp.infer({ ...good, q: f32(2, 5, 30) }, attrs)).toThrow(/attention: q \[2, ?5, ?30\]/);
  });
  test('k and v that do not match', () => {
    expect(() => attentionOp.infer({ ...good, k: f32(2, 7, 32) }, attrs)).toThrow(/attention: input 'k'/);
    expect(() => attentionOp.infer({ ...good, v: f32(2, 6, 16) }, attrs)).toThrow(/attention: input 'v'/);
    expect(() => attentionOp.infer({ ...good, k: f32(1, 7, 16) }, attrs)).toThrow(/attention: input 'k'/);
  });
  test('masks of the wrong dtype or shape', () => {
    expect(() => attentionOp.infer({ ...good, keyMask: f32(2, 7) }, attrs)).toThrow(/'keyMask' has dtype f32, expected u32/);
    expect(() => attentionOp.infer({ ...good, keyMask: u32(2, 5) }, attrs)).toThrow(/'keyMask'/);
    expect(() => attentionOp.infer({ ...good, kvLength: u32(2) }, attrs)).toThrow(/'kvLength'/);
  });
  test('head counts and sizes the kernels cannot take', () => {
    expect(() => attentionOp.infer(good, { ...attrs, numKVHeads: 3 })).toThrow(/numKVHeads 3 must divide numHeads 4/);
    expect(() => attentionOp.infer({ q: f32(1, 1, 129), k: f32(1, 1, 129), v: f32(1, 1, 129) }, { numHeads: 1, headDim: 129 })).toThrow(LimitError);
    expect(() => attentionOp.infer(good, { ...attrs, headDim: 0 })).toThrow(/headDim must be a positive integer/);
  });
});
