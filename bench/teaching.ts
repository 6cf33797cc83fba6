// The matmul's teaching versions (shaders/teaching/), step by step, next to the production kernel
// (shaders/matmul.wgsl) and TensorFlow.js's WebGPU matmul, on the same adapter in the same process.
// Run with `npm run bench:teaching` (BENCH_SIZES=256,512 picks the square sizes). Prints a
// markdown table (GFLOP/s and the speed-up over step 1) and writes bench/results/teaching.json;
// docs/matmul.md quotes it.
//
// Then attention at ViT's shapes (BENCH_PART=matmul or attention runs one part): the naive
// teaching kernel, the fused online-softmax kernel (shaders/attention.wgsl) and the
// matmul + softmax + matmul row of attentionOp's selection table, which ViT runs; the table goes
// to bench/results/teaching-attention.json.
//
// Timing as in bench/kernels.ts: each sample submits `reps` launches of the op's plan back to
// back and waits for the GPU; figures are medians. "CPU-time" divides the work by the process's
// CPU time spread over the cores, steadier when other jobs share the machine (lavapipe runs the
// GPU work on this process's threads).

import { availableParallelism, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { tf } from './tfjs.ts';
import { createDevice, type Dispatch, type Gpu } from '../src/device/gpu.ts';
import type { Tensor } from '../src/device/tensor.ts';
import { matmulOp } from '../src/ops/matmul.ts';
import { TEACHING_MATMUL_STEPS, teachingMatmulOp } from '../src/ops/teaching-matmul.ts';
import { attentionOp, type AttentionAttrs } from '../src/ops/attention.ts';
import { teachingAttentionOp } from '../src/ops/teaching-attention.ts';

const CORES = availableParallelism();
const SIZES = (process.env.BENCH_SIZES ?? '256,512,1024').split(',').map(Number);
const PARTS = (process.env.BENCH_PART ?? 'matmul,attention').split(',');
/** [B, T, H, D]: fashion-vit (28², patch 4) with 8 images, and one image through a ViT-Base/16 at 224². */
const ATTENTION_SHAPES: [number, number, number, number][] = [[8, 50, 4, 24], [1, 197, 12, 64]];

interface Row {
  step: string;
  size: number;
  gflops: number;
  gflopsCpuTime: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds per launch (wall median, and CPU time / cores) of `launch` (reps launches) then `wait`. */
async function measure(samples: number, reps: number, launch: () => void, wait: () => Promise<void>): Promise<{ wallMs: number; cpuMs: number }> {
  const bench = new Bench({ time: 0, iterations: samples, warmup: true, warmupIterations: 1, warmupTime: 0, throws: true });
  const cpu: number[] = [];
  bench.add('sample', async () => {
    const start = process.cpuUsage();
    launch();
    await wait();
    const used = process.cpuUsage(start);
    cpu.push((used.user + used.system) / 1000);
  });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`benchmark ${result.state}`);
  return { wallMs: result.latency.p50 / reps, cpuMs: median(cpu.slice(-samples)) / CORES / reps };
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

/** A few outputs in float64: a fast kernel that computes the wrong thing must not get a figure. */
function spotCheck(got: ArrayLike<number>, a: Float32Array, b: Float32Array, n: number): boolean {
  for (const [row, col] of [[0, 0], [n - 1, n - 1], [n >> 1, (n >> 1) + 1], [n - 1, 0]] as const) {
    let want = 0;
    for (let k = 0; k < n; k++) want += a[row * n + k]! * b[k * n + col]!;
    if (!(Math.abs(got[row * n + col]! - want) <= 1e-3 * (1 + Math.abs(want)))) return false;
  }
  return true;
}

async function timePlan(gpu: Gpu, plan: Dispatch[], out: Tensor, flops: number, check: (got: ArrayLike<number>) => boolean, what: string) {
  gpu.run(plan);
  if (!check(await out.download())) throw new Error(`${what} gave wrong results`);
  const firstMs = await (async () => {
    const start = performance.now();
    gpu.run(plan);
    await gpu.sync();
    return performance.now() - start;
  })();
  const reps = Math.max(1, Math.min(20, Math.round(300 / Math.max(firstMs, 1e-3))));
  const t = await measure(reps === 1 ? 3 : 5, reps, () => gpu.run(Array.from({ length: reps }, () => plan).flat()), () => gpu.sync());
  return { gflops: flops / t.wallMs / 1e6, gflopsCpuTime: flops / t.cpuMs / 1e6 };
}

async function matmulPart(gpu: Gpu, load: number): Promise<void> {
  const rows: Row[] = [];
  for (const n of SIZES) {
    const flops = 2 * n * n * n;
    const av = randomData(n * n, 1), bv = randomData(n * n, 2, 1 / Math.sqrt(n));
    const a = gpu.upload(av, [n, n]), b = gpu.upload(bv, [n, n]), out = gpu.empty([n, n]);
    const check = (got: ArrayLike<number>) => spotCheck(got, av, bv, n);
    const steps: [string, Dispatch[]][] = [
      ...TEACHING_MATMUL_STEPS.map((s): [string, Dispatch[]] => [s.title, teachingMatmulOp.plan(gpu, { a, b }, { out }, { version: s.version }, {})]),
      ['5. production (shaders/matmul.wgsl)', matmulOp.plan(gpu, { a, b }, { out }, {}, {})],
    ];
    for (const [step, plan] of steps) {
      const r = await timePlan(gpu, plan, out, flops, check, `${step} at ${n}³`);
      rows.push({ step, size: n, ...r });
      console.log(`${n}³ ${step}: ${r.gflops.toFixed(2)} GFLOP/s (CPU-time ${r.gflopsCpuTime.toFixed(2)})`);
    }
    [a, b, out].forEach((t) => t.destroy());

    const ta = tf.tensor2d(av, [n, n]), tb = tf.tensor2d(bv, [n, n]);
    const first = tf.matMul(ta, tb);
    if (!check((await first.data()) as Float32Array)) throw new Error(`TensorFlow.js's matmul at ${n}³ gave wrong results`);
    first.dispose();
    let pending: ReturnType<typeof tf.matMul>[] = [];
    const reps = 3;
    const t = await measure(3, reps, () => {
      pending = Array.from({ length: reps }, () => tf.matMul(ta, tb));
    }, async () => {
      await pending.at(-1)!.data();
      pending.forEach((x) => x.dispose());
    });
    [ta, tb].forEach((x) => x.dispose());
    const tfjs = { step: 'TensorFlow.js-WebGPU matMul (for comparison)', size: n, gflops: flops / t.wallMs / 1e6, gflopsCpuTime: flops / t.cpuMs / 1e6 };
    rows.push(tfjs);
    console.log(`${n}³ ${tfjs.step}: ${tfjs.gflops.toFixed(2)} GFLOP/s (CPU-time ${tfjs.gflopsCpuTime.toFixed(2)})`);
  }

  const lines = ['| size | step | GFLOP/s | × step 1 | GFLOP/s (CPU-time) | × step 1 (CPU-time) |', '|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    const naive = rows.find((x) => x.size === r.size)!;
    lines.push(`| ${r.size}³ | ${r.step} | ${r.gflops.toFixed(2)} | ${(r.gflops / naive.gflops).toFixed(1)}× | ${r.gflopsCpuTime.toFixed(2)} | ${(r.gflopsCpuTime / naive.gflopsCpuTime).toFixed(1)}× |`);
  }
  const table = lines.join('\n');
  const where = `${gpu.report.adapter.description || gpu.report.adapter.vendor}, ${CORES} cores, load average ${load.toFixed(1)} at start`;
  console.log(`\n${where}\n\n${table}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/teaching.json', JSON.stringify({ date: new Date().toISOString(), adapter: gpu.report.adapter, loadAverageAtStart: load, rows, markdown: table }, null, 2) + '\n');
}

/** Output rows 0 and T - 1 of head 0 of batch entry 0 in float64, for the spot check. */
function attentionRows(q: Float32Array, k: Float32Array, v: Float32Array, [, T, H, D]: [number, number, number, number], scale: number): Map<number, number> {
  const want = new Map<number, number>();
  for (const i of [0, T - 1]) {
    const s = Array.from({ length: T }, (_, j) => {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[i * H * D + d]! * k[j * H * D + d]!;
      return dot * scale;
    });
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const l = e.reduce((a, b) => a + b, 0);
    for (let d = 0; d < D; d++) want.set(i * H * D + d, e.reduce((acc, p, j) => acc + (p / l) * v[j * H * D + d]!, 0));
  }
  return want;
}

async function attentionPart(gpu: Gpu, load: number): Promise<void> {
  const rows: (Row & { ms: number; msCpuTime: number })[] = [];
  for (const shape of ATTENTION_SHAPES) {
    const [B, T, H, D] = shape;
    const flops = 4 * B * H * T * T * D;
    const [qv, kv, vv] = [1, 2, 3].map((seed) => randomData(B * T * H * D, seed));
    const [q, k, v] = [qv, kv, vv].map((x) => gpu.upload(x!, [B, T, H * D])) as [Tensor, Tensor, Tensor];
    const out = gpu.empty([B, T, H * D]);
    const check = (scale: number) => {
      const want = attentionRows(qv!, kv!, vv!, shape, scale);
      return (got: ArrayLike<number>) => [...want].every(([at, x]) => Math.abs(got[at]! - x) <= 1e-4 * (1 + Math.abs(x)));
    };
    // The fused kernel at the default scale; the matmul row needs the scale folded into q (ViT folds it into Wq), so scale 1.
    const fused: AttentionAttrs = { numHeads: H, headDim: D };
    const folded: AttentionAttrs = { numHeads: H, headDim: D, scale: 1 };
    const scratch = Object.fromEntries(Object.entries(attentionOp.scratch!({ q, k, v }, folded)).map(([name, spec]) => [name, gpu.empty(spec.shape, spec.dtype)]));
    const steps: [string, Dispatch[], number][] = [
      ['1. naive: three passes over the keys (shaders/teaching/attention_1_naive.wgsl)', teachingAttentionOp.plan(gpu, { q, k, v }, { out }, fused, {}), 1 / Math.sqrt(D)],
      ['2. fused: online softmax over K/V tiles (shaders/attention.wgsl)', attentionOp.plan(gpu, { q, k, v }, { out }, fused, {}), 1 / Math.sqrt(D)],
      ['3. matmul + softmax + matmul (the table\'s encoder row)', attentionOp.plan(gpu, { q, k, v }, { out }, folded, scratch), 1],
    ];
    for (const [step, plan, scale] of steps) {
      const r = await timePlan(gpu, plan, out, flops, check(scale), `${step} at ${shape}`);
      rows.push({ step, size: T, ...r, ms: flops / r.gflops / 1e6, msCpuTime: flops / r.gflopsCpuTime / 1e6 });
      console.log(`B${B} T${T} H${H} D${D} ${step}: ${r.gflops.toFixed(2)} GFLOP/s (CPU-time ${r.gflopsCpuTime.toFixed(2)})`);
    }
    [q, k, v, out, ...Object.values(scratch)].forEach((t) => t.destroy());
  }
  const lines = ['| B×T×H×D | step | ms | GFLOP/s | ms (CPU-time) | GFLOP/s (CPU-time) |', '|---|---|---:|---:|---:|---:|'];
  rows.forEach((r, i) => {
    const [B, T, H, D] = ATTENTION_SHAPES[Math.floor(i / 3)]!;
    lines.push(`| ${B}×${T}×${H}×${D} | ${r.step} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(2)} | ${r.msCpuTime.toFixed(2)} | ${r.gflopsCpuTime.toFixed(2)} |`);
  });
  const table = lines.join('\n');
  console.log(`\n${gpu.report.adapter.description || gpu.report.adapter.vendor}, ${CORES} cores, load average ${load.toFixed(1)} at start\n\n${table}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/teaching-attention.json', JSON.stringify({ date: new Date().toISOString(), adapter: gpu.report.adapter, loadAverageAtStart: load, rows, markdown: table }, null, 2) + '\n');
}

async function main(): Promise<void> {
  const gpu = await createDevice();
  const load = loadavg()[0]!;
  if (PARTS.includes('matmul')) await matmulPart(gpu, load);
  if (PARTS.includes('attention')) await attentionPart(gpu, load);
  gpu.destroy();
}

await main();
process.exit(0); // tfjs keeps its device alive
