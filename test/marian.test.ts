import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { marianConfig, sinusoidalPositions } from '../src/models/marian/config.ts';
import { MarianModel, type TranslateOptions } from '../src/models/marian/model.ts';
import { BeamSearch, GreedySearch, processScores, type SearchSettings } from '../src/models/marian/search.ts';
import { parseSafetensors, writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { testDevice } from './util/gpu.ts';

interface Golden {
  logits: { sources: number[][]; decoder: number[][]; logits: number[][][] }[];
  greedy: { sources: number[][]; max_new_tokens: number; min_new_tokens: number; ids: number[][] }[];
  beam: { sources: number[][]; num_beams: number; max_new_tokens: number; length_penalty: number; early_stopping: boolean | 'never'; forced_eos: boolean; ids: number[][]; scores: number[] }[];
}

const DIR = new URL('./fixtures/models/marian-tiny/', import.meta.url).pathname;
const golden = JSON.parse(readFileSync(`${DIR}golden.json`, 'utf8')) as Golden;
const configJson = JSON.parse(readFileSync(`${DIR}config.json`, 'utf8')) as Record<string, unknown>;
const weightBytes = readFileSync(`${DIR}model.safetensors`);

let gpu: Gpu;
let model: MarianModel;
beforeAll(async () => {
  gpu = await testDevice();
  model = await MarianModel.load(gpu, DIR);
});
afterAll(() => {
  model?.destroy();
  gpu?.destroy();
});

/** The fixture's tensors with some renamed, dropped or replaced: a checkpoint for the loader tests. */
function variant(edit: (tensors: Record<string, SafetensorsTensor>) => void): Uint8Array {
  const file = parseSafetensors(weightBytes, 'marian-tiny');
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, shape] of file.shapes) tensors[name] = { dtype: 'F32', shape: [...shape], data: file.float32(name) };
  edit(tensors);
  return writeSafetensors(tensors);
}

describe('Marian (marian-tiny) against the PyTorch reference', () => {
  test('teacher-forced logits match within 1e-4, alone and in a padded batch', async () => {
    for (const { sources, decoder, logits } of golden.logits) {
      const got = await model.logits(sources, decoder);
      let err = 0;
      got.forEach((rows, b) => logits[b]!.flat().forEach((want, i) => (err = Math.max(err, Math.abs(rows[i]! - want)))));
      expect(err, `${sources.length} source(s)`).toBeLessThanOrEqual(1e-4);
    }
  });

  test('padding does not change a source: alone or batched with longer ones, the same logits', async () => {
    const { sources, decoder } = golden.logits[1]!;
    const batched = await model.logits(sources, decoder);
    for (let b = 0; b < sources.length; b++) {
      const [alone] = await model.logits([sources[b]!], [decoder[b]!]);
      let err = 0;
      alone!.forEach((v, i) => (err = Math.max(err, Math.abs(v - batched[b]![i]!))));
      expect(err, `source ${b}`).toBeLessThanOrEqual(1e-5);
    }
  });

  test('greedy search gives the reference ids (batched sources, min_new_tokens)', async () => {
    for (const { sources, max_new_tokens, min_new_tokens, ids } of golden.greedy) {
      const got = await model.generate(sources, { numBeams: 1, maxNewTokens: max_new_tokens, minNewTokens: min_new_tokens });
      expect(got.map((r) => r.ids), `min_new_tokens ${min_new_tokens}`).toEqual(ids);
    }
  });

  test('beam search gives the reference ids and scores (beams, length penalty, early stopping, forced EOS or not)', async () => {
    for (const { sources, num_beams, max_new_tokens, length_penalty, early_stopping, forced_eos, ids, scores } of golden.beam) {
      const got = await model.generate(sources, {
        numBeams: num_beams, maxNewTokens: max_new_tokens, lengthPenalty: length_penalty, earlyStopping: early_stopping, forcedEosId: forced_eos ? undefined : null,
      });
      const what = `${num_beams} beams, lp ${length_penalty}, early ${early_stopping}, forced EOS ${forced_eos}`;
      expect(got.map((r) => r.ids), what).toEqual(ids);
      got.forEach((r, b) => expect(Math.abs(r.score! - scores[b]!), `${what}, score ${b}`).toBeLessThanOrEqual(1e-4));
    }
  });

  test('small batches give the same results as one big batch, in input order', async () => {
    const { sources, num_beams, max_new_tokens, ids } = golden.beam[1]!;
    const got = await model.generate(sources, { numBeams: num_beams, maxNewTokens: max_new_tokens, batchSize: 3 });
    expect(got.map((r) => r.ids)).toEqual(ids);
  });
});

describe('Marian loading', () => {
  test('the config is read with HF names, and the OPUS-MT generation defaults from config.json (the folder has no generation_config.json)', () => {
    const c = model.config;
    expect([c.dim, c.encoderLayers, c.decoderLayers, c.encoderHeads, c.decoderHeads, c.activation, c.padId, c.eosId]).toEqual([32, 2, 3, 4, 2, 'silu', 88, 0]);
    const g = model.generation;
    expect(g.source).toBe('config.json');
    expect([g.decoderStartId, g.padId, g.eosIds, g.badWordsIds, g.forcedEosIds, g.numBeams, g.maxNewTokens]).toEqual([88, 88, [0], [[88]], [0], 4, 63]);
  });

  test('positions: sin in the first half, cos in the second', () => {
    const table = sinusoidalPositions(3, 6);
    const at = (p: number, j: number) => table.data[p * 6 + j]!;
    expect(at(0, 0)).toBe(0);
    expect(at(0, 3)).toBe(1);
    expect(at(2, 1)).toBeCloseTo(Math.sin(2 / 10000 ** (2 / 6)), 6);
    expect(at(2, 4)).toBeCloseTo(Math.cos(2 / 10000 ** (2 / 6)), 6);
  });

  test('a checkpoint with only model.shared.weight (no tied copies, no position tables) loads and agrees', async () => {
    const weights = variant((t) => {
      for (const n of ['model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight', 'model.encoder.embed_positions.weight', 'model.decoder.embed_positions.weight']) delete t[n];
    });
    const m = await MarianModel.fromBuffers(gpu, { config: configJson, weights });
    try {
      const { sources, max_new_tokens, ids } = golden.greedy[1]!;
      expect((await m.generate(sources, { numBeams: 1, maxNewTokens: max_new_tokens })).map((r) => r.ids)).toEqual(ids);
    } finally {
      m.destroy();
    }
  });

  test('errors name the problem: missing and mis-shaped tensors, unknown ones, bad config', async () => {
    const missing = variant((t) => delete t['model.decoder.layers.2.encoder_attn.k_proj.bias']);
    await expect(MarianModel.fromBuffers(gpu, { config: configJson, weights: missing })).rejects.toThrow(/missing tensor 'model\.decoder\.layers\.2\.encoder_attn\.k_proj\.bias', expected shape \[32\]/);
    const shaped = variant((t) => (t.final_logits_bias = { dtype: 'F32', shape: [89], data: new Float32Array(89) }));
    await expect(MarianModel.fromBuffers(gpu, { config: configJson, weights: shaped })).rejects.toThrow(/'final_logits_bias' has shape \[89\], expected \[1, 89\]/);
    const extra = variant((t) => (t['model.decoder.layer_norm.weight'] = { dtype: 'F32', shape: [32], data: new Float32Array(32) }));
    await expect(MarianModel.fromBuffers(gpu, { config: configJson, weights: extra })).rejects.toThrow(/unexpected tensor 'model\.decoder\.layer_norm\.weight'/);
    const noEmbedding = variant((t) => {
      for (const n of ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight']) delete t[n];
    });
    await expect(MarianModel.fromBuffers(gpu, { config: configJson, weights: noEmbedding })).rejects.toThrow(/no shared embedding/);
    expect(() => marianConfig({ ...configJson, normalize_before: true })).toThrow(/'normalize_before' = true is not supported/);
    expect(() => marianConfig({ ...configJson, activation_function: 'tanh' })).toThrow(/activation_function 'tanh' is not supported/);
    expect(() => marianConfig({ ...configJson, d_model: 30 })).toThrow(/d_model 30 does not divide by encoder_attention_heads 4/);
    await expect(MarianModel.load(gpu, `${DIR}nowhere`)).rejects.toThrow(/is not a folder/);
  });

  test('bad inputs are refused before any GPU work, and the model stays usable', async () => {
    await expect(model.generate([[5, 999, 0]])).rejects.toThrow(/token id 999 at index 1 is not in the vocabulary \[0, 89\)/);
    await expect(model.generate([[]])).rejects.toThrow(/source 0 is empty/);
    await expect(model.generate([new Array(65).fill(3)])).rejects.toThrow(/65 tokens, more than the model's 64 positions/);
    await expect(model.generate([[5, 0]], { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens must be an integer in \[1, 64\]/);
    await expect(model.translate(['hello'])).rejects.toThrow(/no tokenizer/);
    const { sources, max_new_tokens, ids } = golden.greedy[0]!;
    expect((await model.generate(sources, { numBeams: 1, maxNewTokens: max_new_tokens })).map((r) => r.ids)).toEqual(ids);
  });
});

describe('search bookkeeping on the host', () => {
  const settings = (over: Partial<SearchSettings> = {}): SearchSettings => ({
    numBeams: 2, maxLength: 4, minLength: 0, lengthPenalty: 1, earlyStopping: false, eosIds: [0], padId: 3, decoderStartId: 3, badWords: [[3]], forcedEosIds: [0], ...over,
  });

  test('greedy: pad banned, EOS forced at the last position, finished rows fed pad', () => {
    const s = new GreedySearch(2, 4, settings({ numBeams: 1 }));
    expect(Array.from(s.start().tokens)).toEqual([3, 3]);
    // row 0 prefers pad (banned) then 2; row 1 picks EOS at once
    let next = s.step(Float32Array.from([0, 1, 2, 9, 5, 1, 1, 1]));
    expect(Array.from(next.tokens)).toEqual([2, 0]);
    next = s.step(Float32Array.from([0, 4, 1, 0, 0, 0, 0, 0]));
    expect(Array.from(next.tokens)).toEqual([1, 3]);
    expect(s.done).toBe(false);
    next = s.step(Float32Array.from([0, 4, 1, 0, 0, 0, 0, 0])); // max length: EOS is forced
    expect(s.done).toBe(true);
    expect(s.results().map((r) => r.ids)).toEqual([[2, 1, 0], [0]]);
  });

  test('processors: a bad pair bans its last token only after its first; every EOS id is banned below minLength; forced ids at the last position', () => {
    const s = settings({ maxLength: 6, minLength: 3, eosIds: [0, 2], badWords: [[3], [1, 2], [3, 1, 1]] });
    const run = (sequence: number[]) => {
      const row = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
      processScores(row, sequence, s);
      return Array.from(row, (v) => (v === -Infinity ? '-inf' : v));
    };
    expect(run([3, 1])).toEqual(['-inf', 0.2, '-inf', '-inf']); // length 2 < minLength: both EOS ids; [1, 2]: 2 after 1
    expect(run([3, 2, 1])).toEqual([0.1, 0.2, '-inf', '-inf']);
    expect(run([3, 1, 2])).toEqual([0.1, 0.2, 0.3, '-inf']);
    expect(run([3, 3, 1, 2, 1])).toEqual([0, '-inf', '-inf', '-inf']); // the last position: only the forced EOS
    expect(run([3])).toEqual(['-inf', 0.2, '-inf', '-inf']); // a word longer than the sequence is skipped, as in HF
  });

  test('greedy stops on any EOS id; beam search keeps (1 + EOS ids) × beams candidates and writes the first EOS id after a hypothesis', () => {
    const g = new GreedySearch(2, 4, settings({ numBeams: 1, maxLength: 5, eosIds: [0, 2], badWords: [] }));
    g.start();
    g.step(Float32Array.from([0, 1, 5, 0, 0, 5, 1, 0]));
    expect(g.done).toBe(false);
    g.step(Float32Array.from([0, 0, 0, 9, 9, 0, 0, 0]));
    expect(g.done).toBe(true);
    expect(g.results().map((r) => r.ids)).toEqual([[2], [1, 0]]);
    // 2 beams, 2 EOS ids: the 6 best candidates; both EOS ids of beam 0 rank in the top 2 and finish, tokens 1 and 3 go on
    const b = new BeamSearch(1, 5, settings({ maxLength: 3, eosIds: [0, 2], badWords: [], forcedEosIds: [] }));
    b.start();
    const logp = (p: number[]) => Float32Array.from(p.map(Math.log));
    const next = b.step(Float32Array.from([...logp([0.3, 0.2, 0.4, 0.05, 0.05]), ...logp([0.2, 0.2, 0.2, 0.2, 0.2])]));
    expect(Array.from(next.tokens)).toEqual([1, 3]);
    b.step(Float32Array.from([...logp([0.1, 0.1, 0.1, 0.6, 0.1]), ...logp([0.1, 0.1, 0.1, 0.6, 0.1])]));
    expect(b.done).toBe(true);
    // [EOS 2]: log 0.4 wins over [EOS 0] (log 0.3) and the open [1, 3] ((log 0.2 + log 0.6) / 2), and is written with EOS 0
    const [best] = b.results();
    expect(best!.ids).toEqual([0]);
    expect(best!.score).toBeCloseTo(Math.log(0.4), 6);
  });

  test('beam search keeps the best hypotheses and reports their length-normalised scores', () => {
    const s = new BeamSearch(1, 4, settings({ maxLength: 3 }));
    s.start();
    const logp = (p: number[]) => Float32Array.from(p.map(Math.log));
    // step 1 (only beam 0 is live): tokens 1 (0.5) and 2 (0.3) become the beams; EOS (0.15) finishes a hypothesis
    let next = s.step(Float32Array.from([...logp([0.15, 0.5, 0.3, 0.05]), ...logp([0.25, 0.25, 0.25, 0.25])]));
    expect(Array.from(next.tokens)).toEqual([1, 2]);
    expect(Array.from(next.sources)).toEqual([0, 0]);
    // step 2 is the last: EOS is forced on both beams
    next = s.step(Float32Array.from([...logp([0.1, 0.8, 0.05, 0.05]), ...logp([0.9, 0.05, 0.03, 0.02])]));
    expect(s.done).toBe(true);
    const [best] = s.results();
    // [1, EOS]: log 0.5 / 2; [2, EOS]: log 0.3 / 2; [EOS]: log 0.15 / 1 → [1, EOS] wins
    expect(best!.ids).toEqual([1, 0]);
    expect(best!.score).toBeCloseTo(Math.log(0.5) / 2, 6);
  });
});

interface GenCase {
  name: string;
  generation_config: Record<string, unknown> | null;
  kwargs: { num_beams?: number; max_new_tokens?: number; min_new_tokens?: number; length_penalty?: number; early_stopping?: boolean | 'never'; forced_eos_token_id?: number | null };
  sources: number[];
  ids: number[][];
  scores?: number[];
}

describe('Marian with a generation_config.json (marian-tiny-genconfig) against the PyTorch reference of HF generate()', () => {
  const GC_DIR = new URL('./fixtures/models/marian-tiny-genconfig/', import.meta.url).pathname;
  const gcGolden = JSON.parse(readFileSync(`${GC_DIR}golden.json`, 'utf8')) as { sources: number[][]; cases: GenCase[] };
  const gcConfig = JSON.parse(readFileSync(`${GC_DIR}config.json`, 'utf8')) as Record<string, unknown>;
  const gcFile = JSON.parse(readFileSync(`${GC_DIR}generation_config.json`, 'utf8')) as Record<string, unknown>;
  const gcWeights = readFileSync(`${GC_DIR}model.safetensors`);
  const PAD = 96, EOS = 0;
  const models = new Map<string, MarianModel>();
  let folder: MarianModel;

  beforeAll(async () => {
    folder = await MarianModel.load(gpu, GC_DIR);
  });
  afterAll(() => {
    folder?.destroy();
    for (const m of models.values()) m.destroy();
  });

  /** The folder's model when the case ran with its generation_config.json, else the same weights with the case's generation config (null: none). */
  async function modelFor(generationConfig: Record<string, unknown> | null): Promise<MarianModel> {
    if (JSON.stringify(generationConfig) === JSON.stringify(gcFile)) return folder;
    const key = JSON.stringify(generationConfig);
    if (!models.has(key)) models.set(key, await MarianModel.fromBuffers(gpu, { config: gcConfig, generationConfig, weights: gcWeights }));
    return models.get(key)!;
  }

  const options = (k: GenCase['kwargs']): TranslateOptions => ({
    numBeams: k.num_beams, maxNewTokens: k.max_new_tokens, minNewTokens: k.min_new_tokens, lengthPenalty: k.length_penalty, earlyStopping: k.early_stopping, forcedEosId: k.forced_eos_token_id,
  });

  test('load takes the defaults from generation_config.json (config.json has no generation keys)', () => {
    for (const key of ['num_beams', 'max_length', 'bad_words_ids', 'forced_eos_token_id']) expect(gcConfig).not.toHaveProperty(key);
    const g = folder.generation;
    expect(g.source).toBe('generation_config.json');
    expect([g.numBeams, g.maxNewTokens, g.minNewTokens, g.eosIds, g.padId, g.decoderStartId, g.badWordsIds, g.forcedEosIds, g.ignored]).toEqual([4, 63, 0, [EOS], PAD, PAD, [[PAD]], [EOS], []]);
  });

  test('the golden cases exercise what the issue is about: rows ending early, rows cut at max_length with the forced EOS, pad kept out by the bad words', () => {
    const byName = (name: string) => gcGolden.cases.find((c) => c.name.startsWith(name))!;
    expect(gcGolden.sources.length).toBeGreaterThanOrEqual(8);
    expect(Math.min(...gcGolden.sources.map((s) => s.length))).toBe(2);
    expect(Math.max(...gcGolden.sources.map((s) => s.length))).toBeGreaterThan(56);
    for (const c of [byName('defaults'), byName('greedy')]) {
      expect(c.ids.some((ids) => ids.length <= 16 && ids.at(-1) === EOS), c.name).toBe(true);
      expect(c.ids.some((ids) => ids.length === 63 && ids.at(-1) === EOS), c.name).toBe(true);
      expect(c.ids.some((ids) => ids.includes(PAD)), c.name).toBe(false);
    }
    expect(byName('greedy without bad_words_ids').ids.some((ids) => ids.includes(PAD))).toBe(true);
    // without the forced EOS, some rows that ended on EOS at max_length do not
    const free = byName('greedy without forced_eos_token_id').ids;
    expect(byName('greedy').ids.some((ids, i) => ids.length === 63 && free[i]!.length === 63 && free[i]!.at(-1) !== EOS)).toBe(true);
  });

  for (const c of gcGolden.cases) {
    test(`${c.name}: ids identical${c.scores ? ', scores within 1e-4' : ''}`, async () => {
      const m = await modelFor(c.generation_config);
      const got = await m.generate(c.sources.map((i) => gcGolden.sources[i]!), options(c.kwargs));
      expect(got.map((r) => r.ids)).toEqual(c.ids);
      if (c.scores) got.forEach((r, b) => expect(Math.abs(r.score! - c.scores![b]!), `score ${b}`).toBeLessThanOrEqual(1e-4));
    });
  }

  test('batches of 3 and one batch of all 10 sources give the same results as the default batches of 8', async () => {
    const c = gcGolden.cases[0]!;
    for (const batchSize of [3, 10]) {
      const got = await folder.generate(gcGolden.sources, { batchSize });
      expect(got.map((r) => r.ids), `batchSize ${batchSize}`).toEqual(c.ids);
    }
  });

  test('keys Tessera does not implement are named in one warning; bad ids name the file and key', async () => {
    const warnings: string[] = [];
    const m = await MarianModel.fromBuffers(gpu, { config: gcConfig, generationConfig: { ...gcFile, repetition_penalty: 1.2, do_sample: true, renormalize_logits: true }, weights: gcWeights }, { onWarning: (w) => warnings.push(w) });
    m.destroy();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^generation_config\.json: 'repetition_penalty', 'do_sample' are not implemented by Tessera's Marian and ignored/);
    const load = (generationConfig: Record<string, unknown>) => MarianModel.fromBuffers(gpu, { config: gcConfig, generationConfig, weights: gcWeights }, { onWarning: () => {} });
    await expect(load({ ...gcFile, eos_token_id: [0, 97] })).rejects.toThrow(/generation_config\.json: 'eos_token_id' 97 is outside the vocabulary of 97/);
    await expect(load({ ...gcFile, bad_words_ids: [[5, 200]] })).rejects.toThrow(/generation_config\.json: 'bad_words_ids' 200 is outside the vocabulary/);
    await expect(load({ ...gcFile, forced_eos_token_id: [0, 300] })).rejects.toThrow(/generation_config\.json: 'forced_eos_token_id' 300 is outside/);
    const { decoder_start_token_id: _start, bos_token_id: _bos, ...noStart } = gcFile;
    await expect(load(noStart)).rejects.toThrow(/generation_config\.json: neither 'decoder_start_token_id' nor 'bos_token_id' is set/);
    await expect(load({ ...gcFile, num_beams: 0 })).rejects.toThrow(/generation_config\.json: 'num_beams' must be an integer ≥ 1, got 0/);
    await expect(load({ ...gcFile, max_length: 1 })).rejects.toThrow(/generation_config\.json: 'max_length' 1 leaves no token to generate/);
    await expect(MarianModel.fromBuffers(gpu, { config: { ...gcConfig, bad_words_ids: [[500]] }, weights: gcWeights })).rejects.toThrow(/^config\.json: 'bad_words_ids' 500 is outside/);
  });
});
