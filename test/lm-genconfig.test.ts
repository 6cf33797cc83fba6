// LanguageModel.generate takes its defaults from the checkpoint's generation config as Hugging Face
// does (tools/reference/make_lm_genconfig_fixtures.py: HF's greedy generate, transformers
// 4.40-4.45), options override them, and bad generation configs are refused by file and key.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import type { GenerateOptions } from '../src/models/lm/options.ts';
import { resolveSampling } from '../src/models/lm/sampling.ts';
import { testDevice } from './util/gpu.ts';

const FIXTURES = new URL('./fixtures/models/', import.meta.url).pathname;
const FOLDER = `${FIXTURES}gpt2-tiny-genconfig`;

interface Case {
  name: string;
  prompt: number[];
  /** generate(**kwargs) over the file, in HF's key names. */
  kwargs: Record<string, number | number[] | number[][] | null>;
  /** HF's generated ids, with the EOS that ended them. */
  ids: number[];
  ended_by: 'eos' | 'max_length';
  /** Plain greedy decoding (no processors) for as many tokens. */
  plain: number[];
}
const golden = JSON.parse(readFileSync(`${FOLDER}/golden.json`, 'utf8')) as { generation_config: Record<string, unknown>; cases: Case[] };
const byName = new Map(golden.cases.map((c) => [c.name, c]));
const fileCase = byName.get('file')!;
const forcedCase = byName.get('forced')!;
const json = (name: string) => JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')) as Record<string, unknown>;
const config = json('gpt2-tiny-genconfig/config.json');
const generationConfig = json('gpt2-tiny-genconfig/generation_config.json');
const weights = readFileSync(`${FOLDER}/model.safetensors`);

/** HF's kwargs as GenerateOptions (the file sets no min_length, so min_new_tokens None is 0). */
function optionsOf(kwargs: Case['kwargs']): GenerateOptions {
  const o: GenerateOptions = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === 'min_new_tokens') o.minNewTokens = (value as number | null) ?? 0;
    else if (key === 'max_new_tokens') o.maxNewTokens = value as number;
    else if (key === 'bad_words_ids') o.badWordsIds = (value as number[][] | null) ?? [];
    else if (key === 'eos_token_id') o.eosTokenIds = [value as number | number[]].flat();
    else if (key === 'forced_eos_token_id') o.forcedEosTokenIds = value === null ? [] : [value as number | number[]].flat();
    else throw new Error(`no option for ${key}`);
  }
  return o;
}

/** What the stream yields for HF's ids: an EOS that ended them is not yielded. */
const yielded = (c: Case) => (c.ended_by === 'eos' ? c.ids.slice(0, -1) : c.ids);

async function collect(stream: AsyncGenerator<{ id: number }>): Promise<number[]> {
  const ids: number[] = [];
  for await (const token of stream) ids.push(token.id);
  return ids;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe('gpt2-tiny-genconfig: generation_config.json as Hugging Face applies it', () => {
  let lm: LanguageModel;
  const warnings: string[] = [];
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, FOLDER, { onWarning: (m) => warnings.push(m) });
  });
  afterAll(() => lm?.destroy());

  test('the golden cases show every processor at work', () => {
    const [eos1, eos2] = golden.generation_config.eos_token_id as number[];
    expect(fileCase.ids).not.toEqual(fileCase.plain);
    expect(fileCase.ids.at(-1)).toBe(eos2); // the second EOS id ends it
    for (const name of ['no min_new_tokens', 'no bad words', 'only the one-token bad word', 'first EOS id only']) {
      expect(byName.get(name)!.ids, name).not.toEqual(fileCase.ids);
    }
    expect(byName.get('no min_new_tokens')!.ids.at(-1)).toBe(eos1); // the ban kept it out
    expect(byName.get('only the one-token bad word')!.ids).not.toEqual(byName.get('no bad words')!.ids);
    expect(forcedCase.ids).toHaveLength(24 - 5); // max_length 24 counts the 5-token prompt
    expect(forcedCase.ids.at(-1)).toBe(eos2);
    expect(byName.get('forced, no forced EOS')!.ids.at(-1)).not.toBe(eos2);
  });

  test('reads the file: its source, ids and lengths; nothing to warn about', () => {
    const g = lm.generationConfig;
    expect(g.source).toBe('generation_config.json');
    expect(g).toMatchObject({ maxLength: 24, minNewTokens: 5, eosIds: generationConfig.eos_token_id, forcedEosIds: [generationConfig.forced_eos_token_id], badWordsIds: generationConfig.bad_words_ids, doSample: false });
    expect(warnings).toEqual([]);
  });

  test.each(golden.cases.map((c) => [c.name, c] as const))('%s: the ids of HF generate()', async (_, c) => {
    expect(await collect(lm.generate(c.prompt, optionsOf(c.kwargs)))).toEqual(yielded(c));
  });

  test('options that turn every processor off give plain greedy decoding', async () => {
    for (const c of [fileCase, forcedCase]) {
      const off: GenerateOptions = { maxNewTokens: c.plain.length, minNewTokens: 0, badWordsIds: [], eosTokenIds: [], forcedEosTokenIds: [] };
      expect(await collect(lm.generate(c.prompt, off))).toEqual(c.plain);
    }
  });

  test('the forced EOS also ends a generation cut by the end of the context', async () => {
    const short = await LanguageModel.load(gpu, FOLDER, { maxContext: 10 });
    try {
      // 5 prompt tokens, 6 new ones (the last is never fed); the sixth is forced.
      expect(await collect(short.generate(forcedCase.prompt, { forcedEosTokenIds: [7] }))).toEqual([...forcedCase.ids.slice(0, 5), 7]);
    } finally {
      short.destroy();
    }
  });
});

describe('generation configs given as buffers', () => {
  const load = (generation: Record<string, unknown> | null, onWarning?: (m: string) => void) =>
    LanguageModel.fromBuffers(gpu, { config, generationConfig: generation, weights }, { onWarning });

  test('min_length counts the prompt as min_new_tokens does not', async () => {
    const lm = await load({ ...generationConfig, min_new_tokens: null, min_length: 5 + (generationConfig.min_new_tokens as number) });
    try {
      expect(await collect(lm.generate(fileCase.prompt))).toEqual(yielded(fileCase));
    } finally {
      lm.destroy();
    }
  });

  test("without max_length or max_new_tokens, HF's max_length 20 counts the prompt (at least one token)", async () => {
    const lm = await load(null); // config.json has no generation keys
    try {
      expect(lm.generationConfig.source).toBe('config.json');
      const plain = fileCase.plain; // plain greedy decoding after a 5-token prompt, 10 tokens
      const ids = await collect(lm.generate(fileCase.prompt));
      expect(ids).toHaveLength(15);
      expect(ids.slice(0, plain.length)).toEqual(plain);
      expect(await collect(lm.generate(Array.from({ length: 25 }, (_, i) => i)))).toHaveLength(1);
    } finally {
      lm.destroy();
    }
  });

  test('do_sample: the file decides between greedy and sampling; options override it', async () => {
    const greedy = await load({ temperature: 0.7, top_k: 5 }); // do_sample false: the temperature is not used
    const sampling = await load({ do_sample: true, temperature: 0.7, top_k: 5, top_p: 0.9 });
    const hfDefaults = await load({ do_sample: true });
    try {
      const prompt = fileCase.prompt;
      const n = fileCase.plain.length;
      const plain = await collect(greedy.generate(prompt, { maxNewTokens: n, seed: 3 }));
      expect(plain).toEqual(fileCase.plain);
      expect(resolveSampling(sampling.generationConfig, {})).toEqual({ sample: true, temperature: 0.7, topK: 5, topP: 0.9 });
      const a = await collect(sampling.generate(prompt, { maxNewTokens: 12, seed: 3 }));
      expect(a).toEqual(await collect(greedy.generate(prompt, { maxNewTokens: 12, temperature: 0.7, topK: 5, topP: 0.9, seed: 3 })));
      expect(await collect(sampling.generate(prompt, { maxNewTokens: 12, seed: 4 }))).not.toEqual(a);
      // temperature 0 and doSample false are greedy whatever the file says
      expect(await collect(sampling.generate(prompt, { maxNewTokens: n, temperature: 0, seed: 3 }))).toEqual(plain);
      expect(await collect(sampling.generate(prompt, { maxNewTokens: n, doSample: false }))).toEqual(plain);
      // HF's defaults when sampling: temperature 1, top_k 50, top_p 1
      expect(resolveSampling(hfDefaults.generationConfig, {})).toEqual({ sample: true, temperature: 1, topK: 50, topP: 1 });
      const top50 = await collect(hfDefaults.generate(prompt, { maxNewTokens: 12, seed: 5 }));
      expect(top50).toEqual(await collect(greedy.generate(prompt, { maxNewTokens: 12, temperature: 1, topK: 50, seed: 5 })));
      // topK 0 samples from every token (another draw order than the top 50)
      expect(await collect(hfDefaults.generate(prompt, { maxNewTokens: 12, seed: 5, topK: 0 }))).toHaveLength(12);
    } finally {
      for (const lm of [greedy, sampling, hfDefaults]) lm.destroy();
    }
  });

  test('keys Tessera does not implement get one warning naming them', async () => {
    const warnings: string[] = [];
    const lm = await load({ ...generationConfig, repetition_penalty: 1.3, num_beams: 4, renormalize_logits: true }, (m) => warnings.push(m));
    lm.destroy();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^generation_config\.json: 'repetition_penalty', 'num_beams' \(4: there is no beam search; .*\) are not implemented by Tessera's LanguageModel and ignored/);
  });

  test.each([
    [{ eos_token_id: [46, 97] }, /generation_config\.json: 'eos_token_id' 97 is outside the vocabulary of 97/],
    [{ bad_words_ids: [[3, 120]] }, /generation_config\.json: 'bad_words_ids' 120 is outside the vocabulary of 97/],
    [{ forced_eos_token_id: 200 }, /generation_config\.json: 'forced_eos_token_id' 200 is outside the vocabulary of 97/],
    [{ pad_token_id: 97 }, /generation_config\.json: 'pad_token_id' 97 is outside/],
    [{ max_new_tokens: 0 }, /generation_config\.json: 'max_new_tokens' must be at least 1/],
    [{ top_k: -1 }, /generation_config\.json: 'top_k' must be an integer ≥ 0, got -1/],
  ])('refuses %j', async (bad, message) => {
    await expect(load({ ...generationConfig, ...bad })).rejects.toThrow(message);
  });

  test('options are checked against the vocabulary too', async () => {
    const lm = await load(generationConfig);
    try {
      await expect(collect(lm.generate([1], { eosTokenIds: [97] }))).rejects.toThrow(/eosTokenIds holds 97, which is not in the model's vocabulary \[0, 97\)/);
      await expect(collect(lm.generate([1], { badWordsIds: [[]] }))).rejects.toThrow(/badWordsIds must be non-empty lists/);
      await expect(collect(lm.generate([1], { minNewTokens: -1 }))).rejects.toThrow(/minNewTokens must be a non-negative integer/);
      await expect(collect(lm.generate([1], { temperature: 1, topK: 98 }))).rejects.toThrow(/topK must be 0 \(all tokens\) or an integer in \[1, 97\], got 98/);
    } finally {
      lm.destroy();
    }
  });
});

describe('llama-tiny: the GPU masks (fused step, then the advance kernel) agree with the host path', () => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, `${FIXTURES}llama-tiny`);
  });
  afterAll(() => lm?.destroy());

  test('one-token bad words and the min-length EOS ban, with and without a word of several tokens', async () => {
    const plain = await collect(lm.generate([5, 9], { maxNewTokens: 30, eosTokenIds: [] }));
    const [x, eos] = [plain[3]!, plain[8]!];
    // On the GPU: x masked throughout, EOS masked for 12 steps, then a fused chunk-free phase.
    const options: GenerateOptions = { maxNewTokens: 30, minNewTokens: 12, eosTokenIds: [eos], badWordsIds: [[x]] };
    const gpuIds = await collect(lm.generate([5, 9], options));
    expect(gpuIds).not.toEqual(plain.slice(0, gpuIds.length));
    expect(gpuIds.slice(0, 12)).not.toContain(eos);
    expect(gpuIds).not.toContain(x);
    // A word that never matches sends decoding through the host path, step by step.
    const hostIds = await collect(lm.generate([5, 9], { ...options, badWordsIds: [[x], [100, 100, 100]] }));
    expect(hostIds).toEqual(gpuIds);
    // Without constraints it is the golden greedy path again (the fused fast path).
    expect(await collect(lm.generate([5, 9], { maxNewTokens: 30, eosTokenIds: [] }))).toEqual(plain);
  });
});
