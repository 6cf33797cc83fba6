import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { matchCheckpoint, type ExpectedTensor } from '../src/models/checkpoint.ts';
import { CheckpointError } from '../src/models/errors.ts';
import { loadLlama2c, parseLlama2c, type Llama2cConfig } from '../src/models/llama2c.ts';
import { dataPath, hasData } from './util/data.ts';

type Header = [dim: number, hidden: number, layers: number, heads: number, kvHeads: number, vocab: number, seqLen: number];

/** The Hugging Face names and shapes a Llama model expects for `config`. */
function expectedLlamaTensors(c: Llama2cConfig): ExpectedTensor[] {
  const kvDim = c.headDim * c.numKVHeads;
  const layers = Array.from({ length: c.numLayers }, (_, i) => {
    const p = `model.layers.${i}.`;
    return [
      { name: `${p}input_layernorm.weight`, shape: [c.dim] },
      { name: `${p}self_attn.q_proj.weight`, shape: [c.dim, c.dim] },
      { name: `${p}self_attn.k_proj.weight`, shape: [kvDim, c.dim] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kvDim, c.dim] },
      { name: `${p}self_attn.o_proj.weight`, shape: [c.dim, c.dim] },
      { name: `${p}post_attention_layernorm.weight`, shape: [c.dim] },
      { name: `${p}mlp.gate_proj.weight`, shape: [c.hiddenDim, c.dim] },
      { name: `${p}mlp.down_proj.weight`, shape: [c.dim, c.hiddenDim] },
      { name: `${p}mlp.up_proj.weight`, shape: [c.hiddenDim, c.dim] },
    ];
  });
  return [
    { name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.dim] },
    ...layers.flat(),
    { name: 'model.norm.weight', shape: [c.dim] },
    { name: 'lm_head.weight', shape: [c.vocabSize, c.dim], optional: c.tiedEmbeddings },
  ];
}

/**
 * A llama2.c file whose every float is its own index in the float section, so each tensor's first
 * value says exactly where the loader took it from.
 */
function syntheticCheckpoint(header: Header, options: { dropFloats?: number; extraFloats?: number } = {}): { bytes: Uint8Array; floats: number } {
  const [dim, hidden, L, heads, kvHeads, signedVocab, seqLen] = header;
  const vocab = Math.abs(signedVocab);
  const kvDim = (dim / heads) * kvHeads;
  const floats =
    vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hidden * dim) + dim + seqLen * (dim / heads) + (signedVocab < 0 ? vocab * dim : 0);
  const count = floats - (options.dropFloats ?? 0) + (options.extraFloats ?? 0);
  const bytes = new Uint8Array(28 + 4 * count);
  const view = new DataView(bytes.buffer);
  header.forEach((v, i) => view.setInt32(i * 4, v, true));
  for (let i = 0; i < count; i++) view.setFloat32(28 + 4 * i, i, true);
  return { bytes, floats };
}

describe('llama2.c checkpoints: synthetic files', () => {
  test('tied: every tensor comes from the right offset, RoPE tables skipped', () => {
    const header: Header = [8, 12, 2, 2, 1, 5, 3];
    const ckpt = parseLlama2c(syntheticCheckpoint(header).bytes, 'tiny.bin');
    expect(ckpt.config).toEqual({ dim: 8, hiddenDim: 12, numLayers: 2, numHeads: 2, numKVHeads: 1, vocabSize: 5, seqLen: 3, headDim: 4, tiedEmbeddings: true });
    const first = (name: string) => ckpt.float32(name)[0];
    // Offsets in floats: embed 40; rms_att 2*8; wq 2*64; wk 2*32; wv 2*32; wo 2*64; rms_ffn 2*8; w1, w2, w3 2*96 each.
    expect(first('model.embed_tokens.weight')).toBe(0);
    expect(first('model.layers.0.input_layernorm.weight')).toBe(40);
    expect(first('model.layers.1.input_layernorm.weight')).toBe(48);
    expect(first('model.layers.0.self_attn.q_proj.weight')).toBe(56);
    expect(first('model.layers.1.self_attn.q_proj.weight')).toBe(120);
    expect(first('model.layers.0.self_attn.k_proj.weight')).toBe(184);
    expect(first('model.layers.1.self_attn.k_proj.weight')).toBe(216);
    expect(first('model.layers.0.self_attn.v_proj.weight')).toBe(248);
    expect(first('model.layers.0.self_attn.o_proj.weight')).toBe(312);
    expect(first('model.layers.0.post_attention_layernorm.weight')).toBe(440);
    expect(first('model.layers.0.mlp.gate_proj.weight')).toBe(456);
    expect(first('model.layers.0.mlp.down_proj.weight')).toBe(648);
    expect(first('model.layers.1.mlp.up_proj.weight')).toBe(840 + 96);
    expect(first('model.norm.weight')).toBe(1032);
    expect(ckpt.tensors.has('lm_head.weight')).toBe(false);
    expect(ckpt.shapes.get('model.layers.1.self_attn.k_proj.weight')).toEqual([4, 8]);
    expect(ckpt.shapes.get('model.layers.1.mlp.down_proj.weight')).toEqual([8, 12]);
    expect(ckpt.float32('model.layers.1.mlp.up_proj.weight').length).toBe(96);
    matchCheckpoint(ckpt.shapes, expectedLlamaTensors(ckpt.config));
  });

  test('untied (negative vocab_size): lm_head.weight after the RoPE tables', () => {
    const header: Header = [8, 12, 2, 2, 1, -5, 3];
    const { bytes, floats } = syntheticCheckpoint(header);
    const ckpt = parseLlama2c(bytes, 'untied.bin');
    expect(ckpt.config.tiedEmbeddings).toBe(false);
    expect(ckpt.config.vocabSize).toBe(5);
    expect(ckpt.shapes.get('lm_head.weight')).toEqual([5, 8]);
    expect(ckpt.float32('lm_head.weight')[0]).toBe(floats - 40);
    expect(ckpt.float32('lm_head.weight')[39]).toBe(floats - 1);
    matchCheckpoint(ckpt.shapes, expectedLlamaTensors(ckpt.config));
  });

  test('errors: truncated, leftover bytes, bad header, newer export', () => {
    const header: Header = [8, 12, 2, 2, 1, 5, 3];
    expect(() => parseLlama2c(new Uint8Array(20), 'short.bin')).toThrow("llama2.c checkpoint 'short.bin': file is 20 bytes, shorter than the 28-byte header");
    expect(() => parseLlama2c(syntheticCheckpoint(header, { dropFloats: 1 }).bytes, 'cut.bin')).toThrow(
      /'cut\.bin': truncated: 'freq_cis_real and freq_cis_imag \(legacy RoPE tables\)' needs bytes/,
    );
    expect(() => parseLlama2c(syntheticCheckpoint(header, { dropFloats: 352 }).bytes, 'cut.bin')).toThrow(/truncated: 'w2' needs bytes 2620\.\.3388 but the file has/);
    expect(() => parseLlama2c(syntheticCheckpoint([8, 12, 2, 2, 1, -5, 3], { dropFloats: 1 }).bytes, 'cut.bin')).toThrow(/truncated: 'wcls \(untied classifier\)'/);
    expect(() => parseLlama2c(syntheticCheckpoint(header, { extraFloats: 2 }).bytes, 'long.bin')).toThrow(/'long\.bin': 8 bytes left over after all tensors/);
    expect(() => parseLlama2c(syntheticCheckpoint([8, 12, 2, 2, 3, 5, 3]).bytes)).toThrow(/dim must divide by n_heads/);
    expect(() => parseLlama2c(syntheticCheckpoint([8, 12, 0, 2, 1, 5, 3]).bytes)).toThrow(/header field numLayers = 0 must be positive/);
    const newer = new Uint8Array(64);
    new DataView(newer.buffer).setInt32(0, 0x616b3432, true);
    new DataView(newer.buffer).setInt32(4, 2, true);
    expect(() => parseLlama2c(newer, 'v2.bin')).toThrow(/newer llama2\.c export \(version 2\)/);
    expect(() => parseLlama2c(new Uint8Array(20))).toThrow(CheckpointError);
  });
});

describe.skipIf(!hasData('stories260K/stories260K.bin'))('llama2.c checkpoints: stories260K', () => {
  const path = dataPath('stories260K/stories260K.bin');

  test('config, names, shapes and values', async () => {
    const ckpt = await loadLlama2c(path);
    expect(ckpt.config).toEqual({ dim: 64, hiddenDim: 172, numLayers: 5, numHeads: 8, numKVHeads: 4, vocabSize: 512, seqLen: 512, headDim: 8, tiedEmbeddings: true });
    expect(ckpt.tensors.size).toBe(1 + 9 * 5 + 1);
    const matched = matchCheckpoint(ckpt.shapes, expectedLlamaTensors(ckpt.config), {}, ckpt.source);
    expect(matched.size).toBe(47);
    expect(ckpt.shapes.get('model.layers.4.self_attn.k_proj.weight')).toEqual([32, 64]);
    expect(ckpt.shapes.get('model.layers.0.mlp.gate_proj.weight')).toEqual([172, 64]);

    // Compare with the floats at their offsets in the raw file.
    const raw = readFileSync(path);
    const floatAt = (index: number) => raw.readFloatLE(28 + 4 * index);
    const embed = ckpt.float32('model.embed_tokens.weight');
    expect(embed[0]).toBe(floatAt(0));
    expect(embed[512 * 64 - 1]).toBe(floatAt(512 * 64 - 1));
    const normStart = 259968; // every float before rms_final (worked out in the order of src/models/llama2c.ts's header)
    expect(Array.from(ckpt.float32('model.norm.weight'))).toEqual(Array.from({ length: 64 }, (_, i) => floatAt(normStart + i)));
    for (const [name, tensor] of ckpt.tensors) {
      expect(tensor.data.every(Number.isFinite), name).toBe(true);
      expect(tensor.data.some((v) => v !== 0), name).toBe(true);
    }
    // RMSNorm gains of a trained model sit around 1, far from the ~0 of projection weights.
    const gain = ckpt.float32('model.layers.2.input_layernorm.weight');
    expect(gain.reduce((a, b) => a + b, 0) / gain.length).toBeGreaterThan(0.2);
  });

  test('a truncated copy fails naming the tensor', () => {
    const raw = new Uint8Array(readFileSync(path));
    expect(() => parseLlama2c(raw.subarray(0, 200_000), 'stories260K.bin')).toThrow(/'stories260K\.bin': truncated: 'wq' needs bytes/);
  });
});
