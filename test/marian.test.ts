import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { marianConfig, sinusoidalPositions } from '../src/models/marian/config.ts';
import { MarianModel } from '../src/models/marian/model.ts';
import { BeamSearch, GreedySearch, type SearchSettings } from '../src/models/marian/search.ts';
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
  test('the config is read with HF names and OPUS-MT generation defaults', () => {
    const c = model.config;
    expect([c.dim, c.encoderLayers, c.decoderLayers, c.encoderHeads, c.decoderHeads, c.activation]).toEqual([32, 2, 3, 4, 2, 'silu']);
    expect([c.padId, c.eosId, c.decoderStartId, c.badIds, c.forcedEosId, c.numBeams, c.maxLength]).toEqual([88, 0, 88, [88], 0, 4, 64]);
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
    numBeams: 2, maxLength: 4, minLength: 0, lengthPenalty: 1, earlyStopping: false, eosId: 0, padId: 3, decoderStartId: 3, badIds: [3], forcedEosId: 0, ...over,
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
