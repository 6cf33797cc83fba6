// Image-token generation benchmark: how fast `ImageGenerator` writes a grid of image tokens after a
// text prompt, for two GPT-2-shaped generators with random weights (Tessera's checkpoint format,
// built in memory), and how long the picture takes to draw. Run with `npm run bench:imagegen`
// (BENCH_FILTER=small or =gpt2 picks one model). Prints a markdown table and writes bench/results/imagegen.json.
//
// What is timed (wall clock, medians of several runs after one warm-up run):
// - image tokens/s: `generateTokens(prompt)` from the text prompt to the last of the H·W tokens,
//   everything included (prefill, constrained decoding, read-back), divided by H·W. Greedy decoding
//   stays on the GPU; sampling (temperature 1, top-k 32) reads the top k back every step;
// - the same greedy decoding without the mask (plain `lm.generate`), to show what the constraint costs;
// - render: the finished grid through the detokenize and ×4 bilinear up-sample kernels and back to
//   the host as RGBA bytes.
// No peer runs this model, so there is no ratio column. The machine's 2 cores are shared: the load
// average at the start is recorded, and each figure also comes as process CPU milliseconds per
// token (lavapipe's threads run in this process), which other processes move less.

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { ImageGenerator } from '../src/models/imagegen/generator.ts';
import { writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { measure, randomUniform } from './timing.ts';

interface Shape {
  /** What BENCH_FILTER matches. */
  key: string;
  name: string;
  dim: number;
  layers: number;
  heads: number;
  /** K image tokens (the codebook). */
  codebook: number;
  grid: number;
  patch: number;
  /** Timed runs after the warm-up. */
  runs: number;
}

const TEXT_VOCAB = 256;
const PROMPT = 'a watercolour fox in the snow';
const SHAPES: Shape[] = [
  { key: 'small', name: 'small (4 layers, 256 wide, 3.4M)', dim: 256, layers: 4, heads: 4, codebook: 512, grid: 16, patch: 4, runs: 3 },
  { key: 'gpt2', name: 'GPT-2-small shape (12 layers, 768 wide, 86M)', dim: 768, layers: 12, heads: 12, codebook: 1024, grid: 16, patch: 8, runs: 1 },
];

interface Row {
  model: string;
  grid: string;
  mode: string;
  tokensPerS: number;
  cpuMsPerToken: number;
  renderMs?: number;
  picture?: string;
}

/** A GPT-2 image generator in memory: text 0..255, image tokens, then BOS and IMAGE_START. */
function checkpoint(c: Shape): { config: Record<string, unknown>; weights: Uint8Array; params: number } {
  const vocab = TEXT_VOCAB + c.codebook + 2;
  const context = 64 + c.grid * c.grid;
  const D = c.dim;
  const tensors: Record<string, SafetensorsTensor> = {};
  let seed = 1;
  const add = (name: string, shape: number[], scale = 0.02, fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: 'F32', shape, data: fill === undefined ? randomUniform(n, seed++, scale) : new Float32Array(n).fill(fill) };
  };
  add('wte.weight', [vocab, D]);
  add('wpe.weight', [context, D]);
  for (let l = 0; l < c.layers; l++) {
    const p = `h.${l}`;
    add(`${p}.ln_1.weight`, [D], 0, 1);
    add(`${p}.ln_1.bias`, [D], 0, 0);
    add(`${p}.attn.c_attn.weight`, [D, 3 * D]);
    add(`${p}.attn.c_attn.bias`, [3 * D]);
    add(`${p}.attn.c_proj.weight`, [D, D]);
    add(`${p}.attn.c_proj.bias`, [D]);
    add(`${p}.ln_2.weight`, [D], 0, 1);
    add(`${p}.ln_2.bias`, [D], 0, 0);
    add(`${p}.mlp.c_fc.weight`, [D, 4 * D]);
    add(`${p}.mlp.c_fc.bias`, [4 * D]);
    add(`${p}.mlp.c_proj.weight`, [4 * D, D]);
    add(`${p}.mlp.c_proj.bias`, [D]);
  }
  add('ln_f.weight', [D], 0, 1);
  add('ln_f.bias', [D], 0, 0);
  const params = Object.values(tensors).reduce((n, t) => n + t.data.length, 0);
  const codebookSize = c.codebook * c.patch * c.patch * 3;
  tensors.codebook = { dtype: 'U8', shape: [c.codebook, c.patch, c.patch, 3], data: Uint8Array.from(randomUniform(codebookSize, 99, 1), (v) => Math.floor((v + 1) * 127.5)) };
  const config = {
    model_type: 'gpt2', vocab_size: vocab, n_positions: context, n_embd: D, n_layer: c.layers, n_head: c.heads,
    layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', tie_word_embeddings: true,
    bos_token_id: vocab - 2, eos_token_id: vocab - 2,
    imagegen: {
      image_token_start: TEXT_VOCAB, image_token_count: c.codebook, grid_height: c.grid, grid_width: c.grid, patch_size: c.patch,
      bos_token_id: vocab - 2, image_start_token_id: vocab - 1,
    },
  };
  return { config, weights: writeSafetensors(tensors), params };
}

async function bench(gpu: Gpu, c: Shape, rows: Row[]): Promise<void> {
  const { config, weights, params } = checkpoint(c);
  const gen = await ImageGenerator.fromBuffers(gpu, { config, weights });
  const prompt = Array.from(new TextEncoder().encode(PROMPT));
  const tokens = c.grid * c.grid;
  const model = c.name;
  const grid = `${c.grid}×${c.grid}, K = ${c.codebook}`;
  console.log(`${model}: ${(params / 1e6).toFixed(1)}M parameters, ${grid}, ${prompt.length + 2}-token prompt`);
  try {
    let last: Int32Array = new Int32Array(0);
    const greedy = await measure(c.runs, async () => (last = await gen.generateTokens(prompt)));
    const render = await measure(Math.max(c.runs, 3), () => gen.render(last, { scale: 4, upsample: 'bilinear' }));
    const picture = `${gen.width}×${gen.height} → ${4 * gen.width}×${4 * gen.height}`;
    rows.push({ model, grid, mode: 'greedy', tokensPerS: (tokens * 1000) / greedy.wallMs, cpuMsPerToken: greedy.cpuMs / tokens, renderMs: render.wallMs, picture });
    console.log(`  greedy: ${greedy.wallMs.toFixed(0)} ms per image (CPU ${greedy.cpuMs.toFixed(0)} ms); render ${picture}: ${render.wallMs.toFixed(1)} ms`);
    // The same greedy decoding without the image-token mask: what the constraint costs.
    const ids = gen.promptIds(prompt);
    const free = await measure(c.runs, async () => {
      let n = 0;
      for await (const _ of gen.lm.generate(ids, { maxNewTokens: tokens })) n++;
      if (n !== tokens) throw new Error(`unconstrained greedy stopped after ${n} of ${tokens} tokens`);
    });
    rows.push({ model, grid, mode: 'greedy, no image-token mask (for comparison)', tokensPerS: (tokens * 1000) / free.wallMs, cpuMsPerToken: free.cpuMs / tokens });
    console.log(`  greedy without the mask: ${free.wallMs.toFixed(0)} ms per image (CPU ${free.cpuMs.toFixed(0)} ms)`);
    const sampled = await measure(c.runs, () => gen.generateTokens(prompt, { temperature: 1, topK: 32, seed: 1 }));
    rows.push({ model, grid, mode: 'sampled (T = 1, top-k 32)', tokensPerS: (tokens * 1000) / sampled.wallMs, cpuMsPerToken: sampled.cpuMs / tokens });
    console.log(`  sampled: ${sampled.wallMs.toFixed(0)} ms per image (CPU ${sampled.cpuMs.toFixed(0)} ms)`);
  } finally {
    gen.destroy();
  }
}

function markdown(rows: Row[]): string {
  const n = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return [
    '| model | grid | decoding | image tokens/s | CPU ms/token | render ×4 bilinear (ms) |',
    '|---|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.model} | ${r.grid} | ${r.mode} | ${n(r.tokensPerS)} | ${r.cpuMsPerToken.toFixed(1)} | ${r.renderMs === undefined ? '' : `${r.renderMs.toFixed(1)} (${r.picture})`} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const filter = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER, 'i') : null;
  const gpu = await createDevice();
  const start = performance.now();
  const loadAverageAtStart = loadavg()[0]!;
  const rows: Row[] = [];
  try {
    for (const shape of SHAPES) if (!filter || filter.test(shape.key)) await bench(gpu, shape, rows);
  } finally {
    gpu.destroy();
  }
  const table = markdown(rows);
  console.log(`\n${table}\n`);
  mkdirSync('bench/results', { recursive: true });
  const result = { date: new Date().toISOString(), adapter: gpu.report.adapter, loadAverageAtStart, seconds: Math.round((performance.now() - start) / 1000), prompt: PROMPT, rows };
  writeFileSync('bench/results/imagegen.json', JSON.stringify(result, null, 2) + '\n');
}

await main();
