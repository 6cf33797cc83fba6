import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { mulberry32, sampleLogits } from '../src/models/lm/sampling.ts';
import { parseSafetensors, writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { testDevice } from './util/gpu.ts';

interface Golden {
  logits: { ids: number[]; logits: number[][] }[];
  greedy: { prompt: number[]; new_tokens: number; ids: number[] }[];
}

const FIXTURES = new URL('./fixtures/models/', import.meta.url).pathname;
const MODELS = ['gpt2-tiny', 'gpt2-tiny-noprefix-f16', 'llama-tiny', 'llama-tiny-tied-bf16'];

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

function maxAbsError(got: Float32Array, want: number[][]): number {
  const flat = want.flat();
  expect(got.length).toBe(flat.length);
  let err = 0;
  for (let i = 0; i < flat.length; i++) err = Math.max(err, Math.abs(got[i]! - flat[i]!));
  return err;
}

async function collect(stream: AsyncGenerator<{ id: number; text: string }>): Promise<number[]> {
  const ids: number[] = [];
  for await (const token of stream) ids.push(token.id);
  return ids;
}

describe.each(MODELS)('%s', (name) => {
  const golden = JSON.parse(readFileSync(`${FIXTURES}${name}/golden.json`, 'utf8')) as Golden;
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, `${FIXTURES}${name}`);
  });
  afterAll(() => lm?.destroy());

  test('prefill logits match PyTorch (float64) at every length within 1e-4', async () => {
    for (const { ids, logits } of golden.logits) {
      expect(maxAbsError(await lm.logits(ids), logits), `T = ${ids.length}`).toBeLessThanOrEqual(1e-4);
    }
  });

  test('decode-path logits (one token at a time through the KV cache) match too', async () => {
    for (const { ids, logits } of golden.logits) {
      expect(maxAbsError(await lm.logits(ids, { incremental: true }), logits), `T = ${ids.length}`).toBeLessThanOrEqual(1e-4);
    }
  });

  test('greedy continuations are identical', async () => {
    for (const { prompt, new_tokens, ids } of golden.greedy) {
      expect(await collect(lm.generate(prompt, { maxNewTokens: new_tokens, temperature: 0 }))).toEqual(ids);
    }
  });
});

describe('sampling', () => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await LanguageModel.load(gpu, `${FIXTURES}llama-tiny`);
  });
  afterAll(() => lm?.destroy());

  test('a seed reproduces the same tokens (full-vocabulary and GPU top-k paths); another seed differs', async () => {
    // topK 0 samples from the whole vocabulary; left out, it is the generation config's top_k (HF's default 50).
    for (const options of [{ temperature: 1, topK: 0 }, { temperature: 0.8, topK: 20, topP: 0.9 }, { temperature: 1.2, topP: 0.95, topK: 0 }, { temperature: 1 }]) {
      const a = await collect(lm.generate([5, 9], { maxNewTokens: 24, seed: 42, ...options }));
      const b = await collect(lm.generate([5, 9], { maxNewTokens: 24, seed: 42, ...options }));
      const c = await collect(lm.generate([5, 9], { maxNewTokens: 24, seed: 7, ...options }));
      expect(a.length).toBeGreaterThan(0); // may end early at EOS (id 2)
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    }
  });

  test('topK = 1 equals greedy decoding', async () => {
    const greedy = await collect(lm.generate([3], { maxNewTokens: 16 }));
    expect(await collect(lm.generate([3], { maxNewTokens: 16, temperature: 1, topK: 1, seed: 1 }))).toEqual(greedy);
  });

  test('sampleLogits follows the softmax and respects top-p', () => {
    const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const random = mulberry32(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleLogits(logits, null, 1, 1, random)]!++;
    expect(counts[0]! / 20000).toBeCloseTo(0.5, 1);
    expect(counts[2]! / 20000).toBeCloseTo(0.2, 1);
    // top-p 0.6 keeps {0.5, 0.3}: token 2 never appears
    for (let i = 0; i < 2000; i++) expect(sampleLogits(logits, [7, 8, 9], 1, 0.6, random)).not.toBe(9);
  });

  test('stop ids end generation before the stop token; maxNewTokens bounds it', async () => {
    const free = await collect(lm.generate([5, 9], { maxNewTokens: 20 }));
    const stopAt = free[6]!;
    const first = free.indexOf(stopAt);
    expect(await collect(lm.generate([5, 9], { maxNewTokens: 20, stop: [stopAt] }))).toEqual(free.slice(0, first));
    expect(await collect(lm.generate([5, 9], { maxNewTokens: 3 }))).toEqual(free.slice(0, 3));
  });

  test('a sequence longer than the context is an error naming both lengths', async () => {
    const long = Array.from({ length: 65 }, (_, i) => i % 100);
    await expect(lm.logits(long)).rejects.toThrow(/65 tokens is longer than the context of 64 tokens/);
    await expect(collect(lm.generate(long))).rejects.toThrow(/65 tokens is longer than the context of 64 tokens/);
    await expect(lm.logits([1, 101])).rejects.toThrow(/token id 101 .* vocabulary \[0, 101\)/);
  });

  test('generation stops at the end of the context', async () => {
    const prompt = Array.from({ length: 60 }, (_, i) => (7 * i) % 100);
    expect(await collect(lm.generate(prompt, { maxNewTokens: 50 }))).toHaveLength(64 - 60 + 1);
  });
});

describe('concurrency (docs/runtime.md)', () => {
  test('calls queue in call order while a stream holds its turn; destroy() rejects queued and later calls', async () => {
    const lm = await LanguageModel.load(gpu, `${FIXTURES}llama-tiny`);
    const greedy = await collect(lm.generate([5, 9], { maxNewTokens: 8 }));
    const logits = await lm.logits([5, 9]);
    const stream = lm.generate([5, 9], { maxNewTokens: 8 });
    const first = await stream.next(); // the stream now holds its turn
    const log: string[] = [];
    const queued = lm.logits([5, 9]).then((l) => (log.push('logits'), l));
    const rest: number[] = [];
    for await (const { id } of stream) rest.push(id);
    log.push('stream');
    // The queued call ran only after the stream ended, on its own sequence: neither disturbed the other.
    expect(await queued).toEqual(logits);
    expect(log).toEqual(['stream', 'logits']);
    expect([first.value!.id, ...rest]).toEqual(greedy);

    // A break (return()) gives the turn back.
    for await (const _ of lm.generate([5, 9], { maxNewTokens: 8 })) break;
    expect(await lm.logits([5, 9])).toEqual(logits);

    const running = lm.logits([5, 9]);
    const waiting = lm.logits([5, 9]);
    const rejected = expect(waiting).rejects.toThrow(/^LanguageModel: used after destroy\(\)$/);
    lm.destroy();
    expect(await running).toEqual(logits); // the running call ends before the memory is freed
    await rejected;
    await expect(lm.logits([5, 9])).rejects.toThrow('LanguageModel: used after destroy()');
    await expect(collect(lm.generate([5, 9]))).rejects.toThrow('LanguageModel: used after destroy()');
  });
});

describe('bad checkpoints', () => {
  const folder = `${FIXTURES}gpt2-tiny`;
  const config = JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')) as Record<string, unknown>;
  const file = parseSafetensors(readFileSync(`${folder}/model.safetensors`));
  function rewrite(edit: (tensors: Record<string, SafetensorsTensor>) => void): Uint8Array {
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const name of file.names) tensors[name] = { dtype: 'F32', shape: file.shapes.get(name)!, data: file.float32(name) };
    edit(tensors);
    return writeSafetensors(tensors);
  }

  test('a missing tensor is named with its expected shape', async () => {
    const weights = rewrite((t) => delete t['transformer.h.1.mlp.c_fc.bias']);
    await expect(LanguageModel.fromBuffers(gpu, { config, weights })).rejects.toThrow(/missing tensor 'h\.1\.mlp\.c_fc\.bias', expected shape \[192\]/);
  });

  test('a mis-shaped tensor is named with the expected and found shapes', async () => {
    const weights = rewrite((t) => {
      t['transformer.h.0.attn.c_attn.weight'] = { dtype: 'F32', shape: [144, 48], data: new Float32Array(144 * 48) };
    });
    await expect(LanguageModel.fromBuffers(gpu, { config, weights })).rejects.toThrow(/'transformer\.h\.0\.attn\.c_attn\.weight' has shape \[144, 48\], expected \[48, 144\]/);
  });

  test('an unexpected tensor is named', async () => {
    const weights = rewrite((t) => {
      t['transformer.h.0.attn.extra'] = { dtype: 'F32', shape: [3], data: [1, 2, 3] };
    });
    await expect(LanguageModel.fromBuffers(gpu, { config, weights })).rejects.toThrow(/unexpected tensor 'transformer\.h\.0\.attn\.extra'/);
  });

  test('an untied Llama without lm_head.weight is missing it', async () => {
    const llamaFolder = `${FIXTURES}llama-tiny`;
    const llamaConfig = JSON.parse(readFileSync(`${llamaFolder}/config.json`, 'utf8')) as Record<string, unknown>;
    const llamaFile = parseSafetensors(readFileSync(`${llamaFolder}/model.safetensors`));
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const name of llamaFile.names) if (name !== 'lm_head.weight') tensors[name] = { dtype: 'F32', shape: llamaFile.shapes.get(name)!, data: llamaFile.float32(name) };
    await expect(LanguageModel.fromBuffers(gpu, { config: llamaConfig, weights: writeSafetensors(tensors) })).rejects.toThrow(/missing tensor 'lm_head\.weight', expected shape \[101, 48\]/);
  });
});

/**
 * GPT-2-small shape (124M parameters) with seeded random weights: the 154 MB token embedding
 * exceeds the 128 MiB binding limit, so the embedding lookup and the tied LM head both run split.
 * Checked against a float64 CPU forward of one token (where attention reduces to v). Slow: about
 * a minute on lavapipe.
 */
describe('GPT-2-small-shaped model (slow: ~1 min on lavapipe)', () => {
  const V = 50257, D = 768, L = 12, P = 1024, F = 4 * D;
  const config = { model_type: 'gpt2', vocab_size: V, n_positions: P, n_embd: D, n_layer: L, n_head: 12, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' };
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let seed = 12345;
  /** Uniform in [mean − a, mean + a] from xorshift32: fast enough for 124M values. */
  const random = (shape: number[], a: number, mean = 0) => {
    const data = new Float32Array(shape.reduce((x, y) => x * y, 1));
    let s = seed++ * 2654435761 >>> 0 || 1;
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      data[i] = mean + a * (2 * (s / 4294967296) - 1);
    }
    return { shape, data };
  };
  const put = (name: string, t: { shape: number[]; data: Float32Array }) => tensors.set(name, t);
  put('wte.weight', random([V, D], 0.1));
  put('wpe.weight', random([P, D], 0.05));
  for (let i = 0; i < L; i++) {
    const p = `h.${i}.`;
    put(`${p}ln_1.weight`, random([D], 0.1, 1)); put(`${p}ln_1.bias`, random([D], 0.05));
    put(`${p}attn.c_attn.weight`, random([D, 3 * D], 0.05)); put(`${p}attn.c_attn.bias`, random([3 * D], 0.05));
    put(`${p}attn.c_proj.weight`, random([D, D], 0.05)); put(`${p}attn.c_proj.bias`, random([D], 0.05));
    put(`${p}ln_2.weight`, random([D], 0.1, 1)); put(`${p}ln_2.bias`, random([D], 0.05));
    put(`${p}mlp.c_fc.weight`, random([D, F], 0.05)); put(`${p}mlp.c_fc.bias`, random([F], 0.05));
    put(`${p}mlp.c_proj.weight`, random([F, D], 0.03)); put(`${p}mlp.c_proj.bias`, random([D], 0.05));
  }
  put('ln_f.weight', random([D], 0.1, 1)); put('ln_f.bias', random([D], 0.05));
  const w = (name: string) => tensors.get(name)!.data;

  /** float64 logits of the one-token sequence [id]. */
  function cpuLogits(id: number): Float64Array {
    const layerNorm = (x: Float64Array, g: Float32Array, b: Float32Array) => {
      const mean = x.reduce((a, v) => a + v, 0) / D;
      const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
      return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[i]! + b[i]!);
    };
    const conv1d = (x: Float64Array, W: Float32Array, b: Float32Array, n: number, cols = n, first = 0) => {
      const out = new Float64Array(n);
      for (let j = 0; j < n; j++) out[j] = b[first + j]!;
      for (let k = 0; k < x.length; k++) for (let j = 0; j < n; j++) out[j] += x[k]! * W[k * cols + first + j]!;
      return out;
    };
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    let x = Float64Array.from({ length: D }, (_, i) => w('wte.weight')[id * D + i]! + w('wpe.weight')[i]!);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      const v = conv1d(layerNorm(x, w(`${p}ln_1.weight`), w(`${p}ln_1.bias`)), w(`${p}attn.c_attn.weight`), w(`${p}attn.c_attn.bias`), D, 3 * D, 2 * D);
      const a = conv1d(v, w(`${p}attn.c_proj.weight`), w(`${p}attn.c_proj.bias`), D);
      x = x.map((xi, i) => xi + a[i]!);
      const f = conv1d(layerNorm(x, w(`${p}ln_2.weight`), w(`${p}ln_2.bias`)), w(`${p}mlp.c_fc.weight`), w(`${p}mlp.c_fc.bias`), F).map(gelu);
      const m = conv1d(f, w(`${p}mlp.c_proj.weight`), w(`${p}mlp.c_proj.bias`), D);
      x = x.map((xi, i) => xi + m[i]!);
    }
    const h = layerNorm(x, w('ln_f.weight'), w('ln_f.bias'));
    const wte = w('wte.weight');
    return Float64Array.from({ length: V }, (_, t) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += h[i]! * wte[t * D + i]!;
      return s;
    });
  }

  let lm: LanguageModel;
  let logits50000: Float32Array | undefined;
  beforeAll(async () => {
    const file: Record<string, SafetensorsTensor> = {};
    for (const [name, t] of tensors) file[name] = { dtype: 'F32', ...t };
    lm = await LanguageModel.fromBuffers(gpu, { config, weights: writeSafetensors(file) });
  }, 300_000);
  afterAll(() => lm?.destroy());

  test('one-token logits match a float64 CPU forward (ids from both halves of the split vocabulary)', async () => {
    for (const id of [50000, 7]) {
      const want = cpuLogits(id);
      const got = await lm.logits([id]);
      if (id === 50000) logits50000 = got;
      let err = 0;
      for (let t = 0; t < V; t++) err = Math.max(err, Math.abs(got[t]! - want[t]!));
      expect(err, `id ${id}`).toBeLessThan(2e-3);
    }
  }, 300_000);

  test('generates a few tokens, the first being the argmax of the checked logits', async () => {
    const tokens: number[] = [];
    for await (const t of lm.generate([50000], { maxNewTokens: 3 })) tokens.push(t.id);
    expect(tokens).toHaveLength(3);
    expect(tokens.every((id) => Number.isInteger(id) && id >= 0 && id < V)).toBe(true);
    let best = 0;
    for (let t = 1; t < V; t++) if (logits50000![t]! > logits50000![best]!) best = t;
    expect(tokens[0]).toBe(best);
  }, 300_000);
});
