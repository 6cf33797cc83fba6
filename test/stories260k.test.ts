import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { dataPath, hasData } from './util/data.ts';
import { testDevice } from './util/gpu.ts';

// llama2.c's published sample: greedy decoding from BOS, 256 new tokens.
const fixture = JSON.parse(readFileSync(new URL('./fixtures/stories260K-greedy-ids.json', import.meta.url), 'utf8')) as { prompt: number[]; ids: number[]; logits_bos: number[] };
const published = readFileSync(new URL('./fixtures/stories260K-greedy.txt', import.meta.url), 'utf8');

describe.skipIf(!hasData('stories260K/stories260K.bin', 'stories260K/tok512.bin'))('stories260K (llama2.c)', () => {
  let gpu: Gpu;
  let lm: LanguageModel;
  beforeAll(async () => {
    gpu = await testDevice();
    lm = await LanguageModel.load(gpu, dataPath('stories260K'));
  });
  afterAll(() => {
    lm?.destroy();
    gpu?.destroy();
  });

  test('loads the config and tokenizer from the folder', () => {
    expect(lm.config).toMatchObject({ family: 'llama', dim: 64, numLayers: 5, numHeads: 8, numKVHeads: 4, vocabSize: 512, contextLength: 512 });
    expect(lm.tokenizer?.vocabSize).toBe(512);
  });

  test('logits after BOS match the float64 reference', async () => {
    const logits = await lm.logits(fixture.prompt);
    let err = 0;
    fixture.logits_bos.forEach((want, i) => (err = Math.max(err, Math.abs(logits[i]! - want))));
    expect(err).toBeLessThan(1e-4);
  });

  test('greedy decoding from BOS reproduces the published 256 tokens and text', async () => {
    const ids: number[] = [];
    let text = '';
    for await (const token of lm.generate('', { maxNewTokens: 256, temperature: 0 })) {
      ids.push(token.id);
      text += token.text;
    }
    expect(ids).toEqual(fixture.ids);
    expect(text).toBe(published.replace(/\n$/, ''));
  });

  test('the model file alone (tokenizer found next to it) gives the same ids', async () => {
    const again = await LanguageModel.load(gpu, dataPath('stories260K', 'stories260K.bin'));
    try {
      const ids: number[] = [];
      for await (const token of again.generate([1], { maxNewTokens: 32 })) ids.push(token.id);
      expect(ids).toEqual(fixture.ids.slice(0, 32));
    } finally {
      again.destroy();
    }
  });

  test('a text prompt is encoded with BOS; stop strings end generation after the token that completes them', async () => {
    const prompt = 'Once upon a time, there was a dog';
    const ids = [1, ...lm.tokenizer!.encode(prompt)];
    const fromText: number[] = [];
    let text = '';
    for await (const t of lm.generate(prompt, { maxNewTokens: 40 })) {
      fromText.push(t.id);
      text += t.text;
    }
    const fromIds: number[] = [];
    for await (const t of lm.generate(ids, { maxNewTokens: 40 })) fromIds.push(t.id);
    expect(fromText).toEqual(fromIds);
    expect(text).toBe(lm.tokenizer!.decode(fromIds));
    const stopped: string[] = [];
    for await (const t of lm.generate(prompt, { maxNewTokens: 40, stop: '.' })) stopped.push(t.text);
    expect(stopped.join('')).toBe(text.slice(0, text.indexOf('.') + 1));
  });

  test('profiling records the prefill and decode tables', async () => {
    const profiled = await LanguageModel.load(gpu, dataPath('stories260K'), { profile: true });
    try {
      for await (const _ of profiled.generate('Once upon a time', { maxNewTokens: 5 })) void _;
      const table = profiled.profileTable();
      expect(table).toMatch(/llama prefill \(\d+ tokens\)/);
      expect(table).toMatch(/llama decode \(1 token\)/);
      expect(table).toMatch(/qkv_split/);
    } finally {
      profiled.destroy();
    }
  });
});
