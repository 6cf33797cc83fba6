// ViT benchmark: images/s of a ViT-B/16-shaped classifier (random weights, 86M parameters, 224×224,
// 1000 labels) at batch 1 and 8, with TensorFlow.js's WebGPU backend running the same forward on the
// same adapter in the same process. Run with `npm run bench:vit` (also part of `npm run bench`);
// `--profile` prints Tessera's per-node GPU profile of one batch-1 and one batch-8 run. Prints a
// markdown table and writes bench/results/vit.json.
//
// What is timed (wall clock, medians of several runs after one warm-up run):
// - forward: normalised pixels [B, 3, 224, 224] in host memory → logits [B, 1000] back in host
//   memory (Tessera: `vit.logits(pixels)`, TensorFlow.js: `forward(pixels).data()`), so both do the
//   same work, uploads and readbacks included;
// - Tessera only: `vit.classify(pngBytes)` for 8 PNG files of 256×256, decoding, PIL-exact resizing
//   and normalising on the CPU included.
// The machine's cores are shared: the load average at the start is recorded, and each figure also
// comes as process CPU milliseconds per image, which other processes move less.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { tf } from './tfjs.ts';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { loadSafetensors, writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { VisionTransformer } from '../src/models/vit/model.ts';
import { TfjsVit, type HostWeights, type VitShape } from './tfjs-vit.ts';
import { measure, randomUniform } from './timing.ts';

const VIT_B16: VitShape & { intermediate: number; labels: number } = {
  imageSize: 224, patchSize: 16, channels: 3, dim: 768, layers: 12, heads: 12, eps: 1e-12, intermediate: 3072, labels: 1000,
};
const BATCHES = [1, 8];
// TensorFlow.js takes several seconds per image on lavapipe: two runs after the warm-up. On a busy
// machine VIT_BENCH_QUICK=1 times one run of each, and TensorFlow.js's batch 8 without a warm-up run
// (its first run, shader compilation included, is timed: a few seconds of several minutes).
const QUICK = process.env.VIT_BENCH_QUICK === '1';
const RUNS = QUICK ? { tessera: 1, tfjs: 1 } : { tessera: 3, tfjs: 2 };
const PROFILE = process.argv.includes('--profile');

interface Row {
  metric: string;
  batch: number;
  /** images/s, wall clock */
  tessera: number;
  tfjs?: number;
  /** process CPU milliseconds per image */
  tesseraCpuMs: number;
  tfjsCpuMs?: number;
  target?: string;
  met?: boolean;
}

/** ViT-B/16 weights by Hugging Face name: random, except the norms (weight 1, bias 0). */
function vitWeights(c: typeof VIT_B16): HostWeights {
  const { dim: D, intermediate: F, channels: C, patchSize: p } = c;
  const N = (c.imageSize / p) ** 2;
  const w: HostWeights = {};
  let seed = 1;
  const rand = (name: string, shape: number[], scale = 0.02) => (w[name] = { data: randomUniform(shape.reduce((a, b) => a * b, 1), seed++, scale), shape });
  const norm = (prefix: string) => {
    w[`${prefix}.weight`] = { data: new Float32Array(D).fill(1), shape: [D] };
    w[`${prefix}.bias`] = { data: new Float32Array(D), shape: [D] };
  };
  const e = 'vit.embeddings.';
  rand(`${e}cls_token`, [1, 1, D]);
  rand(`${e}position_embeddings`, [1, N + 1, D]);
  rand(`${e}patch_embeddings.projection.weight`, [D, C, p, p]);
  rand(`${e}patch_embeddings.projection.bias`, [D]);
  for (let l = 0; l < c.layers; l++) {
    const P = `vit.encoder.layer.${l}.`;
    norm(`${P}layernorm_before`);
    for (const n of ['query', 'key', 'value']) {
      rand(`${P}attention.attention.${n}.weight`, [D, D]);
      rand(`${P}attention.attention.${n}.bias`, [D]);
    }
    rand(`${P}attention.output.dense.weight`, [D, D]);
    rand(`${P}attention.output.dense.bias`, [D]);
    norm(`${P}layernorm_after`);
    rand(`${P}intermediate.dense.weight`, [F, D]);
    rand(`${P}intermediate.dense.bias`, [F]);
    rand(`${P}output.dense.weight`, [D, F]);
    rand(`${P}output.dense.bias`, [D]);
  }
  norm('vit.layernorm');
  rand('classifier.weight', [c.labels, D]);
  rand('classifier.bias', [c.labels]);
  return w;
}

function vitConfigJson(c: typeof VIT_B16): Record<string, unknown> {
  return {
    architectures: ['ViTForImageClassification'], model_type: 'vit', hidden_size: c.dim, num_hidden_layers: c.layers,
    num_attention_heads: c.heads, intermediate_size: c.intermediate, hidden_act: 'gelu', layer_norm_eps: c.eps,
    image_size: c.imageSize, patch_size: c.patchSize, num_channels: c.channels, qkv_bias: true,
    id2label: Object.fromEntries(Array.from({ length: c.labels }, (_, i) => [String(i), `class ${i}`])),
  };
}

/** The tfjs forward must compute what ViT computes: check it on the PyTorch golden logits first. */
async function checkTfjsForward(): Promise<void> {
  const dir = 'test/fixtures/models/vit-tiny';
  const file = await loadSafetensors(join(dir, 'model.safetensors'));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as { tensors: { shape: number[]; pixels: number[]; logits: number[][] } };
  const weights: HostWeights = {};
  for (const name of file.names) weights[name] = { data: file.float32(name), shape: [...file.shapes.get(name)!] };
  const shape: VitShape = {
    imageSize: cfg.image_size!, patchSize: cfg.patch_size!, channels: cfg.num_channels!, dim: cfg.hidden_size!,
    layers: cfg.num_hidden_layers!, heads: cfg.num_attention_heads!, eps: cfg.layer_norm_eps!,
  };
  const model = new TfjsVit(tf, shape, weights);
  const out = model.forward(Float32Array.from(golden.tensors.pixels), golden.tensors.shape[0]!);
  const got = await out.data();
  out.dispose();
  model.dispose();
  const err = golden.tensors.logits.flat().reduce((m, want, i) => Math.max(m, Math.abs(got[i]! - want)), 0);
  if (!(err <= 1e-4)) throw new Error(`the TensorFlow.js ViT forward disagrees with PyTorch: max abs error ${err}`);
  console.log(`TensorFlow.js ViT forward checked against PyTorch (vit-tiny): max abs error ${err.toExponential(2)}`);
}

/** `count` random 256×256 RGB PNG files. */
function randomPngs(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const png = new PNG({ width: 256, height: 256 });
    const noise = randomUniform(256 * 256 * 4, 1000 + i, 1);
    for (let j = 0; j < noise.length; j++) png.data[j] = j % 4 === 3 ? 255 : Math.floor((noise[j]! + 1) * 127.5);
    return PNG.sync.write(png);
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const load = loadavg()[0]!;
  const gpu: Gpu = await createDevice();
  await checkTfjsForward();
  const c = VIT_B16;
  let t0 = performance.now();
  const weights = vitWeights(c);
  const params = Object.values(weights).reduce((a, w) => a + w.data.length, 0);
  console.log(`ViT-B/16-shaped model: ${(params / 1e6).toFixed(1)}M parameters, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const perImage = c.channels * c.imageSize * c.imageSize;
  const pixels = randomUniform(Math.max(...BATCHES) * perImage, 7, 1);
  const rows: Row[] = [];
  // Results are written after every measurement, so a run cut short still leaves its figures.
  const save = () => {
    const table = markdown(rows);
    mkdirSync('bench/results', { recursive: true });
    const report = {
      date: new Date().toISOString(), adapter: gpu.report.adapter, loadAverageAtStart: load, loadAverageNow: loadavg()[0],
      seconds: Math.round((performance.now() - started) / 1000), runs: RUNS, quick: QUICK, rows, markdown: table,
    };
    writeFileSync('bench/results/vit.json', JSON.stringify(report, null, 2) + '\n');
    return table;
  };

  // Tessera first, then freed, so the two engines never hold the weights at the same time.
  t0 = performance.now();
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, { data, shape }] of Object.entries(weights)) tensors[name] = { dtype: 'F32', shape, data };
  const vit = await VisionTransformer.fromBuffers(gpu, { config: vitConfigJson(c), weights: writeSafetensors(tensors) }, { maxBatch: Math.max(...BATCHES), profile: PROFILE });
  console.log(`  Tessera loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    for (const batch of BATCHES) {
      const time = await measure(RUNS.tessera, () => vit.logits(pixels.subarray(0, batch * perImage)));
      console.log(`  Tessera batch ${batch}: ${time.wallMs.toFixed(0)} ms (CPU ${time.cpuMs.toFixed(0)} ms)`);
      rows.push({ metric: 'forward (pixels in, logits out)', batch, tessera: (batch * 1000) / time.wallMs, tesseraCpuMs: time.cpuMs / batch, target: '≥ 5× tfjs' });
      save();
    }
    const pngs = randomPngs(8);
    const time = await measure(RUNS.tessera, () => vit.classify(pngs), !QUICK); // the batch-8 graph is warm already
    console.log(`  Tessera classify 8 PNGs: ${time.wallMs.toFixed(0)} ms (CPU ${time.cpuMs.toFixed(0)} ms)`);
    rows.push({ metric: 'classify 256×256 PNG files (decode + resize included)', batch: 8, tessera: 8000 / time.wallMs, tesseraCpuMs: time.cpuMs / 8 });
    save();
    if (PROFILE) console.log(`\n${vit.profileTable()}\n`);
  } finally {
    await vit.destroy();
  }

  const tfModel = new TfjsVit(tf, c, weights);
  for (const batch of BATCHES) {
    t0 = performance.now();
    const time = await measure(RUNS.tfjs, async () => {
      const out = tfModel.forward(pixels.subarray(0, batch * perImage), batch);
      await out.data();
      out.dispose();
    }, !(QUICK && batch > 1));
    console.log(`  TensorFlow.js batch ${batch}: ${time.wallMs.toFixed(0)} ms (CPU ${time.cpuMs.toFixed(0)} ms) (${((performance.now() - t0) / 1000).toFixed(0)} s with warm-up)`);
    const row = rows.find((r) => r.batch === batch && r.target)!;
    row.tfjs = (batch * 1000) / time.wallMs;
    row.tfjsCpuMs = time.cpuMs / batch;
    row.met = row.tessera >= 5 * row.tfjs;
    save();
  }
  tfModel.dispose();

  const adapter = gpu.report.adapter.description || gpu.report.adapter.vendor;
  console.log(`\n${adapter}, load average ${load.toFixed(1)} at start\n\n${save()}`);
  gpu.destroy();
}

function markdown(rows: Row[]): string {
  const n = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
  const cpu = (ms?: number) => (ms === undefined ? '' : ms.toFixed(0));
  return [
    '| model | images/s of | batch | Tessera | TensorFlow.js-WebGPU | Tessera / tfjs | target | CPU ms/image: Tessera | tfjs |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|',
    ...rows.map((r) => {
      const ratio = r.tfjs ? `${(r.tessera / r.tfjs).toFixed(1)}×` : '';
      const target = r.target ? `${r.target} ${r.met === undefined ? '(no tfjs figure)' : r.met ? '✅' : '❌'}` : '';
      return `| ViT-B/16 shape (86M, random, 224×224) | ${r.metric} | ${r.batch} | ${n(r.tessera)} | ${r.tfjs ? n(r.tfjs) : ''} | ${ratio} | ${target} | ${cpu(r.tesseraCpuMs)} | ${cpu(r.tfjsCpuMs)} |`;
    }),
  ].join('\n');
}

await main();
process.exit(0); // tfjs keeps its device alive
