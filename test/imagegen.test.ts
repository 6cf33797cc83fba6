// The image-token generator against PyTorch (tools/reference/imagegen_reference.py): prefix
// logits, the constrained greedy grid, the detokenized pixels and the ×4 up-sampled pictures; then
// sampling, streaming, partial renders and every checkpoint check's error.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { ImageGenerator, type RenderedImage } from '../src/models/imagegen/generator.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { detokenize } from '../src/ops/detokenize.ts';
import { upsample } from '../src/ops/upsample.ts';
import { parseSafetensors, writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { loadGpt2Tokenizer } from '../src/models/tokenizers/gpt2.ts';
import { testDevice } from './util/gpu.ts';
import { imagegenGolden, type Picture } from './util/imagegen-golden.ts';

const root = resolve(import.meta.dirname, '..');
const fixture = (name: string) => join(root, 'test/fixtures/models', name);

const golden = imagegenGolden;

/** An RGBA picture's RGB bytes (the alpha must be opaque everywhere). */
function rgbOf(image: RenderedImage): Uint8Array {
  const rgb = new Uint8Array(image.width * image.height * 3);
  for (let i = 0; i < image.width * image.height; i++) {
    expect(image.data[4 * i + 3]).toBe(255);
    rgb.set(image.data.subarray(4 * i, 4 * i + 3), 3 * i);
  }
  return rgb;
}

function expectPicture(image: RenderedImage, want: Picture): void {
  expect([image.width, image.height]).toEqual([want.width, want.height]);
  const got = rgbOf(image);
  const expected = Buffer.from(want.rgb, 'base64');
  const firstDiff = got.findIndex((v, i) => v !== expected[i]);
  expect(firstDiff, `first differing byte at ${firstDiff}`).toBe(-1);
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe.each(['imagegen-tiny', 'imagegen-palette-llama'])('%s matches PyTorch', (name) => {
  const g = golden(name);
  let gen: ImageGenerator;
  beforeAll(async () => {
    gen = await ImageGenerator.load(gpu, fixture(name));
  });
  afterAll(() => gen?.destroy());

  test('the text prompt encodes to the reference ids (byte-level tokenizer, no merges)', () => {
    expect(gen.promptIds(g.prompt)).toEqual(g.prompt_ids);
  });

  test('logits of the prompt and the first image tokens within 1e-4 (prefill and decode paths)', async () => {
    const want = g.logits.logits.flat();
    for (const incremental of [false, true]) {
      const got = await gen.lm.logits(g.logits.ids, { incremental });
      expect(got.length).toBe(want.length);
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
      expect(err).toBeLessThanOrEqual(1e-4);
    }
  });

  test('the greedy grid is identical, streamed cell by cell in raster order', async () => {
    const seen: [number, number, number, number][] = [];
    const tokens = await gen.generateTokens(g.prompt, { onToken: (index, row, col, id) => seen.push([index, row, col, id]) });
    expect(Array.from(tokens)).toEqual(g.tokens);
    const { gridWidth: w } = gen.config;
    expect(seen).toEqual(g.tokens.map((id, i) => [i, Math.floor(i / w), i % w, id]));
  });

  test('detokenized pixels and the ×4 nearest and bilinear pictures are identical', async () => {
    expectPicture(await gen.render(g.tokens), g.pixels);
    expectPicture(await gen.render(g.tokens, { scale: 4, upsample: 'nearest' }), g.nearest4);
    const { tokens, image } = await gen.imagine(g.prompt_ids.slice(gen.config.bosTokenId === undefined ? 0 : 1, -1), { scale: 4, upsample: 'bilinear' });
    expect(Array.from(tokens)).toEqual(g.tokens);
    expectPicture(image, g.bilinear4);
  });
});

describe('sampling, partial renders and misuse (imagegen-tiny)', () => {
  let gen: ImageGenerator;
  beforeAll(async () => {
    gen = await ImageGenerator.load(gpu, fixture('imagegen-tiny'));
  });
  afterAll(() => gen?.destroy());

  test('sampling stays inside the image tokens and is reproducible by seed', async () => {
    const { start, end } = gen.imageTokens;
    // topK 0: every image token (left out, HF's default top_k 50, here all 16 image tokens, drawn in logit order)
    const a = await gen.generateTokens('a red fox', { temperature: 1.5, topK: 0, seed: 7 });
    const b = await gen.generateTokens('a red fox', { temperature: 1.5, topK: 0, seed: 7 });
    const c = await gen.generateTokens('a red fox', { temperature: 1.5, topK: 0, seed: 8 });
    const k = await gen.generateTokens('a red fox', { temperature: 1.5, topK: 3, seed: 7 });
    for (const grid of [a, c, k]) for (const id of grid) expect(id >= start && id < end, `token ${id}`).toBe(true);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
    expect(new Set(a).size).toBeGreaterThan(3);
  });

  test('cells not generated yet (−1) render transparent; the rest as their patches', async () => {
    const { tokens } = golden('imagegen-tiny');
    const partial = tokens.map((id, i) => (i < 7 ? id : -1));
    const [full, part] = [await gen.render(tokens), await gen.render(partial)];
    const p = gen.config.patchSize, w = gen.width;
    for (let y = 0; y < gen.height; y++) {
      for (let x = 0; x < w; x++) {
        const cell = Math.floor(y / p) * gen.config.gridWidth + Math.floor(x / p);
        const at = 4 * (y * w + x);
        const want = cell < 7 ? Array.from(full.data.subarray(at, at + 4)) : [0, 0, 0, 0];
        expect(Array.from(part.data.subarray(at, at + 4))).toEqual(want);
      }
    }
  });

  test('bad prompts, grids and scales are refused by name', async () => {
    expect(() => gen.promptIds([65, 256])).toThrow(/prompt token 1 \(256\) is an image token \(256 \.\. 271\)/);
    expect(() => gen.promptIds([65, 9999])).toThrow(/not in the vocabulary \[0, 274\)/);
    expect(() => gen.promptIds('x'.repeat(40))).toThrow(/need 72 tokens, more than the context of 64/);
    await expect(gen.render([256, 257])).rejects.toThrow(/got 2 tokens, expected 6×5 = 30/);
    await expect(gen.render(new Array(30).fill(256), { scale: 0 })).rejects.toThrow(/scale must be a positive integer/);
    await expect(gen.render(new Array(30).fill(256), { upsample: 'cubic' as 'nearest' })).rejects.toThrow(/upsample must be 'nearest' or 'bilinear', got "cubic"/);
  });
});

describe('image kernels refuse bad inputs by name', () => {
  test('detokenize and upsample', () => {
    const grid = gpu.upload(new Int32Array(6), [2, 3], 'i32');
    const floats = gpu.upload(new Float32Array(6), [2, 3]);
    const book = gpu.upload(new Uint32Array(2 * 9), [2, 3, 3], 'u32');
    const oblong = gpu.upload(new Uint32Array(2 * 6), [2, 3, 2], 'u32');
    const image = gpu.upload(new Uint32Array(6), [2, 3], 'u32');
    try {
      expect(() => detokenize(gpu, floats, book, 0)).toThrow("detokenize: input 'tokens' has dtype f32, expected i32");
      expect(() => detokenize(gpu, grid, oblong, 0)).toThrow('detokenize: codebook [2, 3, 2] must be [K, p, p] (square patches)');
      expect(() => detokenize(gpu, grid.reshape([6]), book, 0)).toThrow("detokenize: input 'tokens' has shape [6], expected rank 2");
      expect(() => detokenize(gpu, grid, book, -1)).toThrow('firstToken must be a non-negative 32-bit integer, got -1');
      expect(() => upsample(gpu, image, 0)).toThrow('upsample: scale must be a positive integer, got 0');
      expect(() => upsample(gpu, image, 2, 'cubic' as 'nearest')).toThrow(`upsample: mode must be 'nearest' or 'bilinear', got "cubic"`);
      expect(() => upsample(gpu, floats, 2)).toThrow("upsample: input 'image' has dtype f32, expected u32");
    } finally {
      [grid, floats, book, oblong, image].forEach((t) => t.destroy());
    }
  });
});

describe('LanguageModel allowedTokens', () => {
  test('greedy, top-k and full sampling choose only inside the range; a bad range is refused', async () => {
    const lm = await LanguageModel.load(gpu, fixture('gpt2-tiny'));
    try {
      const allowed = { start: 40, end: 45 };
      // topK 0: sampling from the whole vocabulary (without it, the config's top_k, HF's default 50)
      for (const options of [{}, { temperature: 1, topK: 0, seed: 3 }, { temperature: 1, topK: 8, seed: 3 }]) {
        const ids: number[] = [];
        for await (const t of lm.generate([5, 9, 2], { maxNewTokens: 12, allowedTokens: allowed, ...options })) ids.push(t.id);
        expect(ids.length).toBe(12);
        for (const id of ids) expect(id >= 40 && id < 45, `token ${id}`).toBe(true);
      }
      // The unmasked greedy continuation leaves the range, so the mask did the work.
      const free: number[] = [];
      for await (const t of lm.generate([5, 9, 2], { maxNewTokens: 12 })) free.push(t.id);
      expect(free.some((id) => id < 40 || id >= 45)).toBe(true);
      const bad = lm.generate([5], { allowedTokens: { start: 10, end: 98 } });
      await expect(bad.next()).rejects.toThrow(/allowedTokens \{start: 10, end: 98\} must be integers with 0 ≤ start < end ≤ 97/);
    } finally {
      lm.destroy();
    }
  });
});

describe('classifier-free guidance', () => {
  /** u + scale·(c − u) from full-sequence logits (the prefill path), masked to the range, argmax: the reference greedy step. */
  async function guidedGreedy(lm: LanguageModel, prompt: number[], unconditional: number[], scale: number, n: number, allowed: { start: number; end: number }): Promise<number[]> {
    const V = lm.config.vocabSize;
    const out: number[] = [];
    for (let step = 0; step < n; step++) {
      const last = async (ids: number[]) => (await lm.logits(ids)).subarray((ids.length - 1) * V, ids.length * V);
      const [c, u] = [await last([...prompt, ...out]), await last([...unconditional, ...out])];
      let best = allowed.start;
      for (let i = allowed.start; i < allowed.end; i++) {
        if (u[i]! + scale * (c[i]! - u[i]!) > u[best]! + scale * (c[best]! - u[best]!)) best = i;
      }
      out.push(best);
    }
    return out;
  }

  test('LanguageModel: guided greedy decoding is the host reference step by step; scale 1 is plain decoding', async () => {
    const lm = await LanguageModel.load(gpu, fixture('gpt2-tiny'));
    try {
      const allowed = { start: 20, end: 60 };
      const prompt = [5, 9, 2, 31], unconditional = [5];
      const run = async (options: Parameters<LanguageModel['generate']>[1]) => {
        const ids: number[] = [];
        for await (const t of lm.generate(prompt, { maxNewTokens: 10, allowedTokens: allowed, ...options })) ids.push(t.id);
        return ids;
      };
      const guided = await run({ guidance: { scale: 3, unconditional } });
      expect(guided).toEqual(await guidedGreedy(lm, prompt, unconditional, 3, 10, allowed));
      const plain = await run({});
      expect(await run({ guidance: { scale: 1, unconditional } })).toEqual(plain);
      expect(guided).not.toEqual(plain); // the unconditional side changed the choice
      // Sampling: reproducible by seed, inside the range, with and without top-k.
      for (const extra of [{ topK: 0 }, { topK: 4 }]) {
        const a = await run({ temperature: 1, seed: 11, guidance: { scale: 2, unconditional }, ...extra });
        expect(await run({ temperature: 1, seed: 11, guidance: { scale: 2, unconditional }, ...extra })).toEqual(a);
        for (const id of a) expect(id >= 20 && id < 60, `token ${id}`).toBe(true);
      }
      // The twin's cache is its own: the model's logits are untouched by it.
      const after = await lm.logits(prompt);
      const again = await lm.logits(prompt);
      expect(Array.from(after)).toEqual(Array.from(again));
      const bad = (guidance: { scale: number; unconditional: number[] }) => lm.generate(prompt, { guidance }).next();
      await expect(bad({ scale: Number.NaN, unconditional })).rejects.toThrow(/guidance scale must be a finite number, got NaN/);
      await expect(bad({ scale: 2, unconditional: [] })).rejects.toThrow(/unconditional sequence of guidance is empty/);
      await expect(bad({ scale: 2, unconditional: [500] })).rejects.toThrow(/token id 500 at index 0 is not in the model's vocabulary/);
    } finally {
      lm.destroy();
    }
  });

  test("ImageGenerator: the config's guidance_scale is the default, the empty prompt the unconditional side", async () => {
    const dir = fixture('imagegen-tiny');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> & { imagegen: Record<string, unknown> };
    const weights = readFileSync(join(dir, 'model.safetensors'));
    const tokenizer = await loadGpt2Tokenizer(dir);
    const plain = await ImageGenerator.fromBuffers(gpu, { config, weights, tokenizer });
    const guided = await ImageGenerator.fromBuffers(gpu, { config: { ...config, imagegen: { ...config.imagegen, guidance_scale: 2.5 } }, weights, tokenizer });
    try {
      expect(guided.config.guidanceScale).toBe(2.5);
      const grid = await guided.generateTokens('a red fox');
      expect(Array.from(await plain.generateTokens('a red fox', { guidanceScale: 2.5 }))).toEqual(Array.from(grid));
      expect(Array.from(await guided.generateTokens('a red fox', { guidanceScale: 1 }))).toEqual(Array.from(await plain.generateTokens('a red fox')));
      const { start, end } = guided.imageTokens;
      const reference = await guidedGreedy(guided.lm, guided.promptIds('a red fox'), guided.promptIds([]), 2.5, grid.length, { start, end });
      expect(Array.from(grid)).toEqual(reference);
      await expect(plain.generateTokens('a red fox', { guidanceScale: -2 })).rejects.toThrow(/guidanceScale must be a number ≥ 0, got -2/);
    } finally {
      plain.destroy();
      guided.destroy();
    }
  });
});

describe('checkpoint checks', () => {
  const dir = fixture('imagegen-tiny');
  const baseConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> & { imagegen: Record<string, unknown> };
  const weights = readFileSync(join(dir, 'model.safetensors'));

  /** The fixture's tensors, with `codebook` replaced (or dropped when `codebook` is null). */
  function withCodebook(codebook: SafetensorsTensor | null): Uint8Array {
    const file = parseSafetensors(weights, 'fixture');
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const name of file.names) {
      if (name === 'codebook') continue;
      tensors[name] = { dtype: 'F32', shape: file.shapes.get(name)!, data: file.float32(name) };
    }
    if (codebook) tensors.codebook = codebook;
    return writeSafetensors(tensors);
  }

  const load = (config: Record<string, unknown>, bytes: Uint8Array | Buffer = weights) => ImageGenerator.fromBuffers(gpu, { config, weights: bytes, source: 'bad.safetensors' });
  const imagegen = (patch: Record<string, unknown>) => ({ ...baseConfig, imagegen: { ...baseConfig.imagegen, ...patch } });

  test.each([
    [{ ...baseConfig, imagegen: undefined }, /no 'imagegen' object/],
    [imagegen({ grid_width: 0 }), /imagegen\.grid_width must be an integer ≥ 1, got 0/],
    [imagegen({ patch_size: undefined }), /imagegen\.patch_size is missing/],
    [imagegen({ image_token_start: 260 }), /image tokens 260 \.\. 275 .* run past the vocabulary of 274/],
    [imagegen({ image_start_token_id: 300 }), /imagegen\.image_start_token_id 300 is outside the vocabulary of 274/],
    [imagegen({ bos_token_id: 260 }), /imagegen\.bos_token_id 260 is an image token \(256 \.\. 271\)/],
    [{ ...imagegen({}), eos_token_id: 257 }, /end-of-sequence id 257 \(eos_token_id\) is an image token/],
    [imagegen({ grid_height: 20, grid_width: 20 }), /a 20×20 grid after an empty prompt is 402 tokens, longer than the model's context of 64/],
    [imagegen({ guidance_scale: -1 }), /imagegen\.guidance_scale must be a number ≥ 0, got -1/],
    [imagegen({ guidance_scale: '2' }), /imagegen\.guidance_scale must be a number ≥ 0, got "2"/],
    [imagegen({ image_token_count: 15 }), /tensor 'codebook' has shape \[16, 3, 3, 3\], expected \[15, 3, 3, 3\]/],
  ])('config %#', async (config, message) => {
    await expect(load(config as Record<string, unknown>)).rejects.toThrow(message);
  });

  test('a missing, float or mis-shaped codebook', async () => {
    await expect(load(baseConfig, withCodebook(null))).rejects.toThrow(/no tensor 'codebook' \(U8 \[16, 3, 3, 3\]/);
    const floats = { dtype: 'F32' as const, shape: [16, 3, 3, 3], data: new Float32Array(16 * 27) };
    await expect(load(baseConfig, withCodebook(floats))).rejects.toThrow(/tensor 'codebook' is F32, expected U8/);
    const rgba = { dtype: 'U8' as const, shape: [16, 3, 3, 4], data: new Float32Array(16 * 36) };
    await expect(load(baseConfig, withCodebook(rgba))).rejects.toThrow(/expected \[16, 3, 3, 3\] \(image_token_count, patch_size, patch_size, RGB\)/);
  });

  test('a tokenizer larger than the model is refused', async () => {
    const tokenizer = await loadGpt2Tokenizer(fixture('imagegen-tiny'));
    const small = { ...baseConfig, vocab_size: 250, imagegen: { ...baseConfig.imagegen, image_token_start: 230, bos_token_id: 246, image_start_token_id: 247 } };
    const file = parseSafetensors(weights, 'fixture');
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const n of file.names) {
      if (n === 'codebook') continue;
      const data = file.float32(n), shape = [...file.shapes.get(n)!];
      tensors[n] = n.endsWith('wte.weight') ? { dtype: 'F32', shape: [250, shape[1]!], data: data.subarray(0, 250 * shape[1]!) } : { dtype: 'F32', shape, data };
    }
    tensors.codebook = { dtype: 'U8', shape: [16, 3, 3, 3], data: new Float32Array(16 * 27) };
    await expect(ImageGenerator.fromBuffers(gpu, { config: { ...small, eos_token_id: 246, bos_token_id: 246 }, weights: writeSafetensors(tensors), tokenizer })).rejects.toThrow(
      /the tokenizer has 256 tokens, more than the model's vocabulary of 250/,
    );
  });
});

describe("the generation config's sampling defaults (imagegen-tiny)", () => {
  const dir = fixture('imagegen-tiny');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = readFileSync(join(dir, 'model.safetensors'));
  const load = (generationConfig: Record<string, unknown> | null, onWarning?: (m: string) => void) =>
    ImageGenerator.fromBuffers(gpu, { config, generationConfig, weights }, { onWarning });
  const prompt = [97, 98]; // 'ab' in the byte-level tokenizer

  test('do_sample, temperature, top_k and top_p come from the file; options override them', async () => {
    const greedy = await load(null);
    const sampling = await load({ do_sample: true, temperature: 1.3, top_k: 6, top_p: 0.95 });
    try {
      const plain = Array.from(await greedy.generateTokens(prompt));
      expect(sampling.sampling()).toEqual({ sample: true, temperature: 1.3, topK: 6, topP: 0.95 });
      const a = Array.from(await sampling.generateTokens(prompt, { seed: 4 }));
      expect(a).toEqual(Array.from(await greedy.generateTokens(prompt, { temperature: 1.3, topK: 6, topP: 0.95, seed: 4 })));
      expect(a).not.toEqual(plain);
      expect(Array.from(await sampling.generateTokens(prompt, { temperature: 0 }))).toEqual(plain);
      expect(Array.from(await sampling.generateTokens(prompt, { doSample: false, seed: 4 }))).toEqual(plain);
      // HF's top_k default (50) is at most the 16 image tokens.
      expect(greedy.sampling({ doSample: true })).toEqual({ sample: true, temperature: 1, topK: 16, topP: 1 });
    } finally {
      greedy.destroy();
      sampling.destroy();
    }
  });

  test("the grid decides the length: length, EOS and bad-word keys are named in one warning and change nothing", async () => {
    const warnings: string[] = [];
    const plain = await load(null);
    const moot = await load({ max_new_tokens: 3, min_new_tokens: 40, bad_words_ids: [[256]], forced_eos_token_id: 272, eos_token_id: 272, repetition_penalty: 1.1 }, (m) => warnings.push(m));
    try {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("generation_config.json: 'repetition_penalty' is not implemented by Tessera's LanguageModel and ignored");
      expect(warnings[0]).toContain("generation_config.json: 'max_new_tokens', 'min_new_tokens', 'bad_words_ids', 'forced_eos_token_id' do not apply to an image generator");
      expect(Array.from(await moot.generateTokens(prompt))).toEqual(Array.from(await plain.generateTokens(prompt)));
    } finally {
      plain.destroy();
      moot.destroy();
    }
  });
});
