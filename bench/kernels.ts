// Kernel benchmarks: Tessera's kernels next to TensorFlow.js's WebGPU backend, on the same adapter
// in the same process. Run with `npm run bench` (BENCH_FILTER=<regex> runs only matching rows).
// Prints a markdown table and writes bench/results/kernels.json.
//
// Timing: each sample submits `reps` launches back to back and waits for the GPU (Tessera:
// `gpu.sync()`, TensorFlow.js: `data()` of the last result); time per launch = sample / reps.
// Nothing is subtracted. Figures are medians of the samples (tinybench's p50). lavapipe runs the
// GPU work on this process's threads, so on a shared machine the process's CPU time divided by
// the core count is also reported ("CPU-time" columns): it estimates the unloaded wall time.
//
// Matmul kernel history, 1024×1024×1024 fp32 on lavapipe. The 2 cores were shared with other
// jobs (load average 6–14), so these are CPU-time estimates (see above), best of a few runs, and
// only differences measured in the same minute are meaningful; tfjs measured so gave ≈ 3.5–4.
//
// | version                                                                     | GFLOP/s |
// |-----------------------------------------------------------------------------|---------|
// | lanes = rows, 1 row × 8 columns each, b read by every lane                  |    4    |
// | lanes = columns, 8 rows × vec4 each, every lane reads its 8 rows of a       |    5    |
// | lanes = columns, 8 rows × vec4, a's rows shared by subgroupBroadcast        |  15–21  |
// |   same, 16 rows × vec4 / 16 rows × vec2 / 24 rows × vec2 per lane           |  21–23  |
// |   same + b tile in workgroup memory (32–128 k per barrier), 64 rows / wg    |  12–15  |
// |   64-lane workgroups, 8 rows × 256 columns  (same minute as the next row)   |  10–17  |
// |   4 row blocks of 8 lanes sharing 32 columns (b panel reused from cache)    |  16–21  |
// |   same, 16 rows per block (idle machine, A/B in the same minute: 19–21)     |  23–25  | ← shipped
//
// Matrix-vector (M = 1, transposed 40000×768 weight, CPU ms): scalar loads 35–48, vec4 loads
// 29–41 (shipped), one lane per output row 33–46.
// Final figures: bench/results/kernels.json.

import { availableParallelism, loadavg } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Bench } from 'tinybench';
import { tf } from './tfjs.ts';
import type { Tensor as TfTensor } from '@tensorflow/tfjs-core';
import { createDevice, type Dispatch, type Gpu } from '../src/device/gpu.ts';
import type { Tensor } from '../src/device/tensor.ts';
import { matmulOp, type MatmulAttrs } from '../src/ops/matmul.ts';
import { attentionOp } from '../src/ops/attention.ts';
import { layerNormOp } from '../src/ops/layernorm.ts';
import type { OpDef } from '../src/ops/op.ts';


const filter = new RegExp(process.env.BENCH_FILTER ?? '.');

interface Row {
  kernel: string;
  shape: string;
  unit: 'GFLOP/s' | 'GB/s';
  tessera: number;
  /** From CPU time instead of wall time (see the header). */
  tesseraCpuTime: number;
  tfjs?: number;
  tfjsCpuTime?: number;
  /** Why TensorFlow.js has no figure (it failed, or has no such kernel here). */
  tfjsNote?: string;
}

/** Milliseconds per launch: wall-clock median, and median process CPU time / cores. */
interface Timing {
  wallMs: number;
  cpuMs: number;
}

const CORES = availableParallelism();

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Time `samples` samples (after one warm-up) of `launchAll` (which submits `reps` launches) and `wait`. */
async function measure(name: string, samples: number, reps: number, launchAll: () => void, wait: () => Promise<void>): Promise<Timing> {
  const bench = new Bench({ time: 0, iterations: samples, warmup: true, warmupIterations: 1, warmupTime: 0, throws: true });
  const cpu: number[] = [];
  bench.add(name, async () => {
    const start = process.cpuUsage();
    launchAll();
    await wait();
    const used = process.cpuUsage(start);
    cpu.push((used.user + used.system) / 1000);
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`${name}: benchmark ${result.state}`);
  return { wallMs: result.latency.p50 / reps, cpuMs: median(cpu.slice(-samples)) / CORES / reps };
}

/** Launches per sample so that one sample takes about `targetMs` at `expectedRate` units/s. */
function repsFor(work: number, expectedRate: number, targetMs = 300): number {
  return Math.max(1, Math.min(20, Math.round((targetMs / 1000) * expectedRate / work)));
}

/** Time an op's plan (made once, as the graph runtime does) replayed `reps` times per sample. */
async function timeOp<A>(gpu: Gpu, name: string, op: OpDef<A>, inputs: Record<string, Tensor>, attrs: A, work: number, rate: number): Promise<Timing> {
  const specs = op.infer(inputs, attrs);
  const outputs = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, gpu.empty(s.shape, s.dtype)]));
  const scratch = Object.fromEntries(Object.entries(op.scratch?.(inputs, attrs) ?? {}).map(([k, s]) => [k, gpu.empty(s.shape, s.dtype)]));
  const plan: Dispatch[] = op.plan(gpu, inputs, outputs, attrs, scratch);
  const reps = repsFor(work, rate);
  const samples = reps === 1 ? 3 : 5;
  try {
    return await measure(name, samples, reps, () => gpu.run(Array.from({ length: reps }, () => plan).flat()), () => gpu.sync());
  } finally {
    for (const t of [...Object.values(outputs), ...Object.values(scratch)]) t.destroy();
  }
}

function randomData(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

/** A few outputs of a·op(b) in float64, to check that both engines computed the right thing. */
function spotCheck(got: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number, transposeB: boolean): boolean {
  for (const [m, n] of [[0, 0], [M - 1, N - 1], [M >> 1, N >> 1], [M - 1, 0]] as const) {
    let want = 0;
    for (let k = 0; k < K; k++) want += a[m * K + k]! * b[transposeB ? n * K + k : k * N + n]!;
    if (!(Math.abs(got[m * N + n]! - want) <= 1e-3 * (1 + Math.abs(want)))) return false;
  }
  return true;
}

// ---- matmul -------------------------------------------------------------------------------------

async function benchMatmul(gpu: Gpu, label: string, M: number, K: number, N: number, transposeB: boolean): Promise<Row | null> {
  const shape = `${M}×${K}×${N}${transposeB ? ' (bᵀ)' : ''}`;
  const kernel = `matmul ${label}`;
  if (!filter.test(`${kernel} ${shape}`)) return null;
  const flops = 2 * M * N * K;
  const av = randomData(M * K, 1), bv = randomData(K * N, 2, 1 / Math.sqrt(K));
  const bShape = transposeB ? [N, K] : [K, N];
  const row: Row = { kernel, shape, unit: 'GFLOP/s', tessera: NaN, tesseraCpuTime: NaN };

  const a = gpu.upload(av, [M, K]), b = gpu.upload(bv, bShape);
  const attrs: MatmulAttrs = { transposeB };
  try {
    const check = gpu.empty([M, N]);
    gpu.run(matmulOp.plan(gpu, { a, b }, { out: check }, attrs, {}));
    const ok = spotCheck((await check.download()) as Float32Array, av, bv, M, N, K, transposeB);
    check.destroy();
    if (!ok) throw new Error(`Tessera's matmul ${shape} gave wrong results`);
    const t = await timeOp(gpu, kernel, matmulOp, { a, b }, attrs, flops, 15e9);
    row.tessera = flops / t.wallMs / 1e6;
    row.tesseraCpuTime = flops / t.cpuMs / 1e6;
  } finally {
    a.destroy();
    b.destroy();
  }

  const ta = tf.tensor2d(av, [M, K]), tb = tf.tensor2d(bv, bShape as [number, number]);
  try {
    const first = tf.matMul(ta, tb, false, transposeB);
    const ok = spotCheck((await first.data()) as Float32Array, av, bv, M, N, K, transposeB);
    first.dispose();
    if (!ok) {
      const tooBig = 4 * K * N > gpu.limits.maxStorageBufferBindingSize;
      row.tfjsNote = tooBig ? 'fails (b exceeds the storage binding limit)' : 'wrong result';
    } else {
      const reps = repsFor(flops, 5e9);
      const t = await measure(`tfjs ${kernel}`, reps === 1 ? 3 : 5, reps, () => {
        const outs = Array.from({ length: reps }, () => tf.matMul(ta, tb, false, transposeB));
        pendingTf = outs;
      }, async () => {
        await pendingTf.at(-1)!.data();
        pendingTf.forEach((t) => t.dispose());
      });
      row.tfjs = flops / t.wallMs / 1e6;
      row.tfjsCpuTime = flops / t.cpuMs / 1e6;
    }
  } catch (err) {
    row.tfjsNote = `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 80)}`;
  } finally {
    ta.dispose();
    tb.dispose();
  }
  return row;
}
let pendingTf: TfTensor[] = [];

// ---- attention ----------------------------------------------------------------------------------

/** Causal self-attention of GPT-2 small (12 heads of 64), one sequence; FLOPs = 4·B·H·Tq·Tk·D. */
async function benchAttention(gpu: Gpu, T: number): Promise<Row | null> {
  const H = 12, D = 64;
  const shape = `T=${T}, ${H}×${D}, causal`;
  if (!filter.test(`attention ${shape}`)) return null;
  const flops = 4 * H * T * T * D;
  const [q, k, v] = [1, 2, 3].map((seed) => gpu.upload(randomData(T * H * D, seed), [1, T, H * D]));
  try {
    const t = await timeOp(gpu, 'attention', attentionOp, { q: q!, k: k!, v: v! }, { numHeads: H, headDim: D, causal: true }, flops, 5e9);
    return { kernel: 'attention', shape, unit: 'GFLOP/s', tessera: flops / t.wallMs / 1e6, tesseraCpuTime: flops / t.cpuMs / 1e6, tfjsNote: 'not compared' };
  } finally {
    [q, k, v].forEach((t) => t!.destroy());
  }
}

// ---- layernorm ----------------------------------------------------------------------------------

/** LayerNorm over D = 768; bytes = 2·rows·D·4 (read x once, write out once). */
async function benchLayerNorm(gpu: Gpu, rows: number): Promise<Row | null> {
  const D = 768;
  const shape = `${rows}×${D}`;
  if (!filter.test(`layernorm ${shape}`)) return null;
  const bytes = 2 * rows * D * 4;
  const x = gpu.upload(randomData(rows * D, 1), [rows, D]);
  const weight = gpu.upload(randomData(D, 2), [D]), bias = gpu.upload(randomData(D, 3), [D]);
  try {
    const t = await timeOp(gpu, 'layernorm', layerNormOp, { x, weight, bias }, { eps: 1e-5 }, bytes, 0.2e9);
    return { kernel: 'layernorm', shape, unit: 'GB/s', tessera: bytes / t.wallMs / 1e6, tesseraCpuTime: bytes / t.cpuMs / 1e6, tfjsNote: 'not compared' };
  } finally {
    [x, weight, bias].forEach((t) => t.destroy());
  }
}

// ---- main ---------------------------------------------------------------------------------------

function markdown(rows: Row[]): string {
  const lines = [
    '| kernel | shape | unit | Tessera | TensorFlow.js | Tessera / tfjs | Tessera (CPU-time) | tfjs (CPU-time) | ratio (CPU-time) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const compared = r.tfjs !== undefined && r.tfjsCpuTime !== undefined;
    const cells = [
      r.kernel, r.shape, r.unit, r.tessera.toFixed(2),
      compared ? r.tfjs!.toFixed(2) : r.tfjsNote ?? '',
      compared ? `${(r.tessera / r.tfjs!).toFixed(2)}×` : '',
      r.tesseraCpuTime.toFixed(2),
      compared ? r.tfjsCpuTime!.toFixed(2) : '',
      compared ? `${(r.tesseraCpuTime / r.tfjsCpuTime!).toFixed(2)}×` : '',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const gpu = await createDevice();
  const started = performance.now();
  const load = loadavg()[0]!;
  const rows: Row[] = [];
  const add = (row: Row | null) => {
    if (!row) return;
    rows.push(row);
    const tfjs = row.tfjs !== undefined ? `${row.tfjs.toFixed(2)} (${(row.tessera / row.tfjs).toFixed(2)}×)` : row.tfjsNote;
    const cpuTime = `CPU-time: Tessera ${row.tesseraCpuTime.toFixed(2)}${row.tfjsCpuTime !== undefined ? `, tfjs ${row.tfjsCpuTime.toFixed(2)}` : ''}`;
    console.log(`${row.kernel} ${row.shape}: Tessera ${row.tessera.toFixed(2)} ${row.unit}, tfjs ${tfjs}; ${cpuTime}`);
  };

  for (const n of [256, 512, 1024, 2048]) add(await benchMatmul(gpu, 'square', n, n, n, false));
  add(await benchMatmul(gpu, 'gpt2 qkv', 128, 768, 2304, false));
  add(await benchMatmul(gpu, 'gpt2 mlp up', 128, 768, 3072, false));
  add(await benchMatmul(gpu, 'gpt2 mlp down', 128, 3072, 768, false));
  add(await benchMatmul(gpu, 'gpt2 lm head', 1, 768, 50257, true));
  for (const T of [128, 512, 1024]) add(await benchAttention(gpu, T));
  for (const rows of [128, 1024, 4096]) add(await benchLayerNorm(gpu, rows));

  const table = markdown(rows);
  const where = `${gpu.report.adapter.description || gpu.report.adapter.vendor}, ${CORES} cores, load average ${load.toFixed(1)} at start`;
  console.log(`\n${where}\n\n${table}`);
  mkdirSync('bench/results', { recursive: true });
  const report = {
    date: new Date().toISOString(),
    adapter: gpu.report.adapter,
    loadAverageAtStart: load,
    seconds: Math.round((performance.now() - started) / 1000),
    rows,
    markdown: table,
  };
  writeFileSync('bench/results/kernels.json', JSON.stringify(report, null, 2) + '\n');
  gpu.destroy();
}

await main();
process.exit(0); // tfjs keeps its device alive
