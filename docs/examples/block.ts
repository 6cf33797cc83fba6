// A GPT-2-shaped transformer block (T = 128, D = 768, 12 heads), written in the unfused form,
// then compiled and profiled: the example of docs/runtime.md.
//
//   node --import ./bench/register.mjs docs/examples/block.ts
//
// Prints the nodes as written, the nodes after fusion, the memory plan, and a profile (the
// median of 5 profiled runs per node).
import { compile, createDevice, formatProfile, GraphBuilder, Session, type ProfileRow, type Value } from '../../src/index.ts';

const T = 128, D = 768, H = 12;
const gpu = await createDevice();

/** A seeded weight of the given shape (the values matter neither for the structure nor the timing). */
let seed = 1;
function weight(shape: number[], scale = 0.02) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed++;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return gpu.upload(data, shape);
}
const tensors = {
  ln1w: weight([D], 1), ln1b: weight([D]), wq: weight([D, D]), bq: weight([D]), wk: weight([D, D]), bk: weight([D]),
  wv: weight([D, D]), bv: weight([D]), wo: weight([D, D]), bo: weight([D]), ln2w: weight([D], 1), ln2b: weight([D]),
  w1: weight([4 * D, D]), b1: weight([4 * D]), w2: weight([D, 4 * D]), b2: weight([D]),
};

const g = new GraphBuilder('block');
const w = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, g.constant(k, t)])) as Record<keyof typeof tensors, Value>;
const x = g.input('x', [1, T, D]);
const linear = (input: Value, wt: Value, b: Value, name: string) => g.add(g.matmul(input, wt, { transposeB: true, name }), b, `${name}.bias`);

const h = g.layerNorm(x, w.ln1w, w.ln1b, 1e-5, 'ln1');
const { out: attn } = g.attention(linear(h, w.wq, w.bq, 'q'), linear(h, w.wk, w.bk, 'k'), linear(h, w.wv, w.bv, 'v'), { numHeads: H, headDim: D / H, causal: true });
const r = g.add(x, linear(attn, w.wo, w.bo, 'proj'), 'residual1');
const f = g.gelu(linear(g.layerNorm(r, w.ln2w, w.ln2b, 1e-5, 'ln2'), w.w1, w.b1, 'fc'));
g.output('y', g.add(r, linear(f, w.w2, w.b2, 'fc2'), 'residual2'));

console.log(`as written: ${g.nodes.length} nodes: ${g.nodes.map((n) => n.name).join(', ')}`);
const compiled = compile(g);
console.log(`compiled:   ${compiled.schedule.length} nodes: ${compiled.schedule.map((n) => n.name).join(', ')}`);
const session = await Session.create(gpu, compiled);
const m = session.memory;
console.log(`memory: ${m.buffers} buffers, ${(m.plannedBytes / 2 ** 20).toFixed(2)} MiB planned vs ${(m.naiveBytes / 2 ** 20).toFixed(2)} MiB with one buffer per intermediate`);

// One profiled run is at the mercy of whatever else the machine is doing: take the median of 5.
const input = new Float32Array(T * D).map((_, i) => Math.sin(i));
await session.run({ x: input });                      // warm-up
const runs: ProfileRow[][] = [];
for (let r = 0; r < 5; r++) {
  await session.run({ x: input }, { profile: true });
  runs.push(session.profile());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = runs[0]!.map((row, n) => {
  const ms = median(runs.map((run) => run[n]!.ms));
  const scale = row.ms / ms; // the rates of the first run, rescaled to the median time
  return { ...row, ms, gflops: row.gflops && row.gflops * scale, gbps: row.gbps && row.gbps * scale };
});
const total = rows.reduce((sum, row) => sum + row.ms, 0);
console.log(formatProfile(rows.map((row) => ({ ...row, share: row.ms / total }))));

session.destroy();
Object.values(tensors).forEach((t) => t.destroy());
gpu.destroy();
