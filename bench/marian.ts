// Translation benchmarks: encoder and decoder tokens/s of a Transformer-base-shaped Marian model
// (d 512, 6 + 6 layers, 8 heads, FFN 2048, vocabulary 58,101 as OPUS-MT's, random weights), with
// TensorFlow.js's WebGPU backend running the same encoder on the same adapter in the same process.
// Run with `npm run bench:marian` (also the last part of `npm run bench`). Prints a markdown table
// and writes bench/results/marian.json.
//
// What is timed (wall clock, medians of several runs after one warm-up run):
// - encoder: a batch of 8 sources of 32 tokens (Tessera: `encodeOnly`, which ends when the GPU is
//   done; TensorFlow.js: `encode(...)` then `data()` of one element, which waits for the same work);
// - decoder: one step per generated token for one source, greedy and with 4 beams (4 rows per step),
//   and greedy for 8 sources together: (time of `generate` for N tokens − time for 1 token) / (N − 1).
//   EOS is banned until the last token (minNewTokens) so every run makes exactly N tokens. The
//   figures include the host's share of each step: reading the logits [rows, 58101] back, the
//   log-softmax and the beam bookkeeping.
// Before timing, the TensorFlow.js forward is checked against the PyTorch golden logits of the
// marian-tiny fixture (≤ 1e-4), so both engines are known to compute the same network.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tf } from './tfjs.ts';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { sinusoidalPositions } from '../src/models/marian/config.ts';
import { MarianModel } from '../src/models/marian/model.ts';
import { loadSafetensors, writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { TfjsMarian, type HostWeights, type MarianShape } from './tfjs-marian.ts';
import { measure, randomUniform, type Timing } from './timing.ts';

const BASE = { vocab: 58101, dim: 512, layers: 6, heads: 8, ffn: 2048, positions: 512 };
const ENCODER_BATCH = 8;
const SOURCE_TOKENS = 32;
const DECODE_TOKENS = 17;
const RUNS = { encoder: 3, tfjsEncoder: 3, decode: 2 };

interface Row {
  metric: string;
  /** tokens/s, wall clock */
  tessera: number;
  tfjs?: number;
  /** process CPU milliseconds per token */
  tesseraCpuMs: number;
  tfjsCpuMs?: number;
}

/** A Transformer-base Marian checkpoint by HF name: random linears and embedding, norms 1 and 0. */
function baseWeights(): HostWeights {
  const { vocab: V, dim: D, layers: L, ffn: F } = BASE;
  const w: HostWeights = {};
  let seed = 1;
  const rand = (name: string, shape: number[], scale: number) => (w[name] = { data: randomUniform(shape.reduce((a, b) => a * b, 1), seed++, scale), shape });
  const linear = (p: string, out: number, inp: number) => {
    rand(`${p}.weight`, [out, inp], Math.sqrt(3 / inp));
    rand(`${p}.bias`, [out], 0.02);
  };
  const norm = (p: string) => {
    w[`${p}.weight`] = { data: new Float32Array(D).fill(1), shape: [D] };
    w[`${p}.bias`] = { data: new Float32Array(D), shape: [D] };
  };
  rand('model.shared.weight', [V, D], 0.05);
  rand('final_logits_bias', [1, V], 0.02);
  for (const side of ['encoder', 'decoder'] as const) {
    for (let l = 0; l < L; l++) {
      const p = `model.${side}.layers.${l}`;
      for (const a of side === 'encoder' ? ['self_attn'] : ['self_attn', 'encoder_attn']) {
        for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}.${a}.${proj}`, D, D);
        norm(`${p}.${a}_layer_norm`);
      }
      linear(`${p}.fc1`, F, D);
      linear(`${p}.fc2`, D, F);
      norm(`${p}.final_layer_norm`);
    }
  }
  return w;
}

function baseConfig(): Record<string, unknown> {
  const { vocab: V, dim: D, layers: L, heads: H, ffn: F, positions: P } = BASE;
  return {
    model_type: 'marian', vocab_size: V, decoder_vocab_size: V, d_model: D, encoder_layers: L, decoder_layers: L,
    encoder_attention_heads: H, decoder_attention_heads: H, encoder_ffn_dim: F, decoder_ffn_dim: F,
    activation_function: 'swish', max_position_embeddings: P, scale_embedding: true, pad_token_id: V - 1, eos_token_id: 0,
    decoder_start_token_id: V - 1, forced_eos_token_id: 0, bad_words_ids: [[V - 1]], num_beams: 4, max_length: 512,
  };
}

function sourceIds(b: number, n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? 0 : 1 + ((b * 7919 + i * 104729) % (vocab - 2))));
}

/** The tfjs forward must compute what Marian computes: check it on the PyTorch golden logits first. */
async function checkTfjsForward(): Promise<void> {
  const dir = 'test/fixtures/models/marian-tiny';
  const file = await loadSafetensors(join(dir, 'model.safetensors'));
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number & string & boolean>;
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as { logits: { sources: number[][]; decoder: number[][]; logits: number[][][] }[] };
  const weights: HostWeights = {};
  for (const name of file.names) weights[name] = { data: file.float32(name), shape: [...file.shapes.get(name)!] };
  weights.positions = { data: sinusoidalPositions(c.max_position_embeddings, c.d_model).data, shape: [c.max_position_embeddings, c.d_model] };
  const shape: MarianShape = {
    vocab: c.vocab_size, dim: c.d_model, encoderLayers: c.encoder_layers, decoderLayers: c.decoder_layers,
    encoderHeads: c.encoder_attention_heads, decoderHeads: c.decoder_attention_heads, scaleEmbedding: c.scale_embedding, activation: c.activation_function,
  };
  const model = new TfjsMarian(tf, shape, weights);
  for (const { sources, decoder, logits } of golden.logits) {
    const B = sources.length, T = Math.max(...sources.map((s) => s.length)), Td = decoder[0]!.length;
    const ids = new Int32Array(B * T).fill(c.pad_token_id);
    const mask = new Uint8Array(B * T);
    sources.forEach((s, b) => (ids.set(s, b * T), mask.fill(1, b * T, b * T + s.length)));
    const out = model.logits(ids, mask, B, T, Int32Array.from(decoder.flat()), Td);
    const got = await out.data();
    out.dispose();
    const err = logits.flat(2).reduce((m, want, i) => Math.max(m, Math.abs(got[i]! - want)), 0);
    if (!(err <= 1e-4)) throw new Error(`the TensorFlow.js Marian forward disagrees with PyTorch on ${B} source(s): max abs error ${err}`);
  }
  model.dispose();
}

/** Time per decoder step: (t(N tokens) − t(1 token)) / (N − 1) for these sources and beams. */
async function decodeStep(model: MarianModel, sources: number[][], numBeams: number): Promise<Timing> {
  const run = (n: number) => async () => {
    const results = await model.generate(sources, { numBeams, maxNewTokens: n, minNewTokens: n - 1, batchSize: sources.length });
    if (results.some((r) => r.ids.length !== n)) throw new Error(`decode bench: wanted ${n} tokens per source, got ${results.map((r) => r.ids.length)}`);
  };
  const one = await measure(RUNS.decode, run(1));
  const many = await measure(RUNS.decode, run(DECODE_TOKENS));
  return { wallMs: (many.wallMs - one.wallMs) / (DECODE_TOKENS - 1), cpuMs: (many.cpuMs - one.cpuMs) / (DECODE_TOKENS - 1) };
}

async function bench(gpu: Gpu, rows: Row[]): Promise<void> {
  let t0 = performance.now();
  const weights = baseWeights();
  const params = Object.values(weights).reduce((a, w) => a + w.data.length, 0);
  console.log(`Transformer-base Marian: ${(params / 1e6).toFixed(1)}M parameters, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const sources = Array.from({ length: ENCODER_BATCH }, (_, b) => sourceIds(b, SOURCE_TOKENS, BASE.vocab));
  const encoderTokens = ENCODER_BATCH * SOURCE_TOKENS;

  // TensorFlow.js first, then freed, so the two engines never hold the weights at the same time.
  t0 = performance.now();
  const tfModel = new TfjsMarian(tf, {
    vocab: BASE.vocab, dim: BASE.dim, encoderLayers: BASE.layers, decoderLayers: BASE.layers, encoderHeads: BASE.heads, decoderHeads: BASE.heads, scaleEmbedding: true, activation: 'swish',
  }, { ...weights, positions: { data: sinusoidalPositions(BASE.positions, BASE.dim).data, shape: [BASE.positions, BASE.dim] } });
  const ids = Int32Array.from(sources.flat());
  const mask = new Uint8Array(ids.length).fill(1);
  const tfjsTime = await measure(RUNS.tfjsEncoder, async () => {
    const out = tfModel.encode(ids, mask, ENCODER_BATCH, SOURCE_TOKENS);
    const first = tf.slice(out, [0, 0], [1, 1]);
    await first.data(); // waits for the whole encoder, reads back one number
    tf.dispose([first, out]);
  });
  tfModel.dispose();
  console.log(`  TensorFlow.js encoder ${ENCODER_BATCH}×${SOURCE_TOKENS}: ${tfjsTime.wallMs.toFixed(0)} ms (${((performance.now() - t0) / 1000).toFixed(0)} s with upload and warm-up)`);

  t0 = performance.now();
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, { data, shape }] of Object.entries(weights)) tensors[name] = { dtype: 'F32', shape, data };
  const model = await MarianModel.fromBuffers(gpu, { config: baseConfig(), weights: writeSafetensors(tensors) });
  console.log(`  Tessera loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const encoder = await measure(RUNS.encoder, () => model.encodeOnly(sources));
    console.log(`  Tessera encoder ${ENCODER_BATCH}×${SOURCE_TOKENS}: ${encoder.wallMs.toFixed(0)} ms (CPU ${encoder.cpuMs.toFixed(0)} ms)`);
    rows.push({
      metric: `encoder, ${ENCODER_BATCH} sources × ${SOURCE_TOKENS} tokens`, tessera: (encoderTokens * 1000) / encoder.wallMs, tesseraCpuMs: encoder.cpuMs / encoderTokens,
      tfjs: (encoderTokens * 1000) / tfjsTime.wallMs, tfjsCpuMs: tfjsTime.cpuMs / encoderTokens,
    });
    for (const [label, batch, beams] of [['decoder, greedy, 1 source', 1, 1], ['decoder, 4 beams, 1 source', 1, 4], [`decoder, greedy, ${ENCODER_BATCH} sources`, ENCODER_BATCH, 1]] as const) {
      const step = await decodeStep(model, sources.slice(0, batch), beams);
      console.log(`  Tessera ${label}: ${step.wallMs.toFixed(1)} ms/step (CPU ${step.cpuMs.toFixed(1)} ms)`);
      rows.push({ metric: `${label} (target tokens/s)`, tessera: (batch * 1000) / step.wallMs, tesseraCpuMs: step.cpuMs / batch });
    }
  } finally {
    model.destroy();
  }
}

function markdown(rows: Row[]): string {
  const n = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const cpu = (ms?: number) => (ms === undefined ? '' : ms.toFixed(ms >= 10 ? 0 : 2));
  return [
    '| tokens/s of | Tessera | TensorFlow.js-WebGPU | Tessera / tfjs | CPU ms/token: Tessera | tfjs |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.metric} | ${n(r.tessera)} | ${r.tfjs ? n(r.tfjs) : ''} | ${r.tfjs ? `${(r.tessera / r.tfjs).toFixed(1)}×` : ''} | ${cpu(r.tesseraCpuMs)} | ${cpu(r.tfjsCpuMs)} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const gpu = await createDevice();
  const started = performance.now();
  const load = loadavg()[0]!;
  await checkTfjsForward();
  const rows: Row[] = [];
  await bench(gpu, rows);
  const table = markdown(rows);
  const adapter = gpu.report.adapter.description || gpu.report.adapter.vendor;
  console.log(`\n${adapter}, load average ${load.toFixed(1)} at start\n\n${table}`);
  mkdirSync('bench/results', { recursive: true });
  const report = { date: new Date().toISOString(), adapter: gpu.report.adapter, loadAverageAtStart: load, seconds: Math.round((performance.now() - started) / 1000), shape: BASE, runs: RUNS, rows, markdown: table };
  writeFileSync('bench/results/marian.json', JSON.stringify(report, null, 2) + '\n');
  gpu.destroy();
}

await main();
process.exit(0); // tfjs keeps its device alive
