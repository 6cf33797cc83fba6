/**
 * `LanguageModel.attentionMaps` against PyTorch (tools/reference/lm_attention_maps.py): every
 * layer's [heads, T, T] attention probabilities of a GPT-2 (byte tokenizer, 4 heads) and of a
 * Llama with grouped-query heads and RoPE, for sequences that need padding (19 → 32 tokens), the
 * shortest one (1 token) and one that fills the whole cache (64 tokens after padding).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { testDevice } from './util/gpu.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
interface Case {
  ids: number[];
  /** Per layer, [heads, T, T] flattened. */
  maps: number[][];
}
const golden: Record<string, Case[]> = JSON.parse(readFileSync(join(FIXTURES, 'lm-attention-maps.json'), 'utf8'));

function maxAbsError(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  return err;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe.each(Object.keys(golden))('LanguageModel.attentionMaps: %s', (name) => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, join(FIXTURES, 'models', name));
  });
  afterAll(() => lm?.destroy());

  test('every layer\'s probabilities match PyTorch within 1e-5', async () => {
    for (const { ids, maps: want } of golden[name]!) {
      const maps = await lm.attentionMaps(ids);
      expect(maps.length).toBe(lm.config.numLayers);
      const T = ids.length, H = lm.config.numHeads;
      maps.forEach((map, layer) => {
        expect(map.length).toBe(H * T * T);
        expect(maxAbsError(map, want[layer]!), `${T} tokens, layer ${layer}`).toBeLessThanOrEqual(1e-5);
      });
    }
  });
});

describe('LanguageModel.attentionMaps: with generation, and bad input', () => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, join(FIXTURES, 'models', 'gpt2-bytes-tiny'));
  });
  afterAll(() => lm?.destroy());

  test('generation after it is unchanged (the maps only borrow the KV cache)', async () => {
    const cases = golden['gpt2-bytes-tiny']!;
    const run = async () => {
      const ids: number[] = [];
      for await (const t of lm.generate(cases[0]!.ids, { maxNewTokens: 8 })) ids.push(t.id);
      return ids;
    };
    const before = await run();
    await lm.attentionMaps(cases.at(-1)!.ids);
    expect(await run()).toEqual(before);
  });

  test('empty, too long and out-of-vocabulary sequences are clear errors', async () => {
    await expect(lm.attentionMaps([])).rejects.toThrow(/attentionMaps: the sequence is empty/);
    await expect(lm.attentionMaps(new Array(65).fill(1))).rejects.toThrow(/attentionMaps: the sequence of 65 tokens is longer than the context of 64 tokens/);
    await expect(lm.attentionMaps([3, 256])).rejects.toThrow(/token id 256 at index 1 is not in the model's vocabulary \[0, 256\)/);
    expect((await lm.attentionMaps([1, 2])).length).toBe(2); // and it still works afterwards
  });
});
