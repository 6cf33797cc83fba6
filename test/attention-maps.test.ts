/**
 * The attention pictures of the demos against PyTorch (tools/reference/attention_maps.py): the
 * ViT's per-layer self-attention (`VisionTransformer.attentionMaps`) and Marian's decoder
 * cross-attention (`MarianModel.crossAttention`), from the committed tiny fixtures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { MarianModel } from '../src/models/marian/index.ts';
import { VisionTransformer } from '../src/models/vit/index.ts';
import { testDevice } from './util/gpu.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
type Nested = number | Nested[];
interface Golden {
  vit: { model: string; pixels: number[]; logits: number[]; layers: Nested[] };
  marian: { model: string; source: number[]; target: number[]; cross: Nested[] };
}
const golden: Golden = JSON.parse(readFileSync(join(FIXTURES, 'attention-maps.json'), 'utf8'));

function maxAbsError(got: ArrayLike<number>, want: Nested): number {
  const flat: number[] = [];
  const walk = (v: Nested): void => void (Array.isArray(v) ? v.forEach(walk) : flat.push(v));
  walk(want);
  expect(got.length).toBe(flat.length);
  let err = 0;
  for (let i = 0; i < flat.length; i++) err = Math.max(err, Math.abs(got[i]! - flat[i]!));
  return err;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe('VisionTransformer.attentionMaps', () => {
  let vit: VisionTransformer;
  beforeAll(async () => {
    vit = await VisionTransformer.load(gpu, join(FIXTURES, 'models', golden.vit.model));
  });
  afterAll(() => vit?.destroy());

  test('every layer\'s [heads, T, T] probabilities and the logits match PyTorch within 1e-5', async () => {
    const maps = await vit.attentionMaps(Float32Array.from(golden.vit.pixels));
    expect(maps.grid).toEqual([4, 4]);
    expect(maps.tokens).toBe(17);
    expect(maps.heads).toBe(3);
    expect(maps.layers.length).toBe(golden.vit.layers.length);
    maps.layers.forEach((layer, i) => expect(maxAbsError(layer, golden.vit.layers[i]!), `layer ${i}`).toBeLessThanOrEqual(1e-5));
    expect(maxAbsError(maps.logits, golden.vit.logits)).toBeLessThanOrEqual(1e-4);
  });

  test('the logits equal the classifier\'s for the same pixels', async () => {
    const pixels = Float32Array.from(golden.vit.pixels);
    const maps = await vit.attentionMaps(pixels);
    const logits = await vit.logits(pixels);
    expect(maxAbsError(maps.logits, Array.from(logits))).toBeLessThanOrEqual(1e-5);
  });

  test('a wrong pixel count is a clear error', async () => {
    await expect(vit.attentionMaps(new Float32Array(10))).rejects.toThrow(/expected one 1×28×28 image \(784 values\), got 10 values/);
  });
});

describe('MarianModel.crossAttention', () => {
  let model: MarianModel;
  beforeAll(async () => {
    model = await MarianModel.load(gpu, join(FIXTURES, 'models', golden.marian.model));
  });
  afterAll(() => model?.destroy());

  test('every decoder layer\'s [heads, target, source] cross-attention matches PyTorch within 1e-5', async () => {
    const { source, target, cross } = golden.marian;
    const maps = await model.crossAttention(source, target);
    expect(maps.heads).toBe(2);
    expect(maps.layers.length).toBe(cross.length);
    maps.layers.forEach((layer, i) => expect(maxAbsError(layer, cross[i]!), `layer ${i}`).toBeLessThanOrEqual(1e-5));
  });

  test('after a translation, on the translation itself: rows are distributions over the source', async () => {
    const source = golden.marian.source;
    const [result] = await model.generate([source], { numBeams: 3, maxNewTokens: 10 });
    const maps = await model.crossAttention(source, result!.ids);
    const T = result!.ids.length, S = source.length;
    for (const layer of maps.layers) {
      expect(layer.length).toBe(maps.heads * T * S);
      for (let row = 0; row < maps.heads * T; row++) {
        const sum = layer.subarray(row * S, (row + 1) * S).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    }
  });

  test('bad input: clear errors', async () => {
    await expect(model.crossAttention(golden.marian.source, [])).rejects.toThrow(/the target is empty/);
    await expect(model.crossAttention(golden.marian.source, [3, 500])).rejects.toThrow(/target token id 500 at index 1 is not in the vocabulary \[0, 89\)/);
    await expect(model.crossAttention([], [3])).rejects.toThrow(/source 0 is empty/);
  });
});
