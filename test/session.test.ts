import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { compile } from '../src/graph/compile.ts';
import { Graph } from '../src/graph/graph.ts';
import { binaryOp } from '../src/ops/binary.ts';
import { BucketedSession } from '../src/runtime/buckets.ts';
import { Session } from '../src/runtime/session.ts';
import { Rng } from './util/rng.ts';
import { testDevice } from './util/gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

/** y = ((x + b) * w + b) * w … : a chain long enough for the planner to reuse buffers. */
function chainGraph(rows: number, width: number, depth: number, w: ReturnType<Gpu['upload']>) {
  const g = new Graph('chain');
  const x = g.input('x', [rows, width]);
  const b = g.input('b', [width]);
  const wv = g.constant('w', w);
  let h = x;
  for (let i = 0; i < depth; i++) {
    h = g.apply(binaryOp, { a: h, b }, { op: 'add' }, `add${i}`).out!;
    h = g.apply(binaryOp, { a: h, b: wv }, { op: 'mul' }, `mul${i}`).out!;
  }
  g.output('y', h);
  g.output('flat', g.reshape(h, [rows * width]));
  return g;
}

describe('session', () => {
  test('runs a compiled graph, matches the CPU, and reuses its memory across 1,000 runs', async () => {
    const rng = new Rng(7);
    const rows = 3, width = 37, depth = 4;
    const wHost = rng.uniform(width, 0.5, 1.5);
    const w = gpu.upload(wHost, [width]);
    const session = await Session.create(gpu, compile(chainGraph(rows, width, depth, w)));
    expect(session.memory.buffers).toBe(2);
    expect(session.memory.plannedBytes).toBeLessThan(session.memory.naiveBytes);

    const check = async (seed: number) => {
      const r = new Rng(seed);
      const x = r.normal(rows * width), b = r.normal(width);
      const { y, flat } = await session.run({ x, b });
      const want = Array.from(x, (v, i) => {
        let h = v;
        for (let d = 0; d < depth; d++) h = (h + b[i % width]!) * wHost[i % width]!;
        return h;
      });
      for (let i = 0; i < want.length; i++) expect(y![i]).toBeCloseTo(want[i]!, 4);
      expect(Array.from(flat!)).toEqual(Array.from(y!));
    };
    await check(1);
    const before = gpu.allocatedBytes;
    const x = new Float32Array(rows * width), b = new Float32Array(width);
    for (let i = 0; i < 1000; i++) await session.run({ x, b }, { download: i % 100 === 0 ? ['y'] : [] });
    expect(gpu.allocatedBytes).toBe(before);
    await check(2);
    session.destroy();
    w.destroy();
  });

  test('outputs stay on the device and feed the next run without a round trip', async () => {
    const g = new Graph('double');
    const x = g.input('x', [5]);
    g.output('y', g.apply(binaryOp, { a: x, b: x }, { op: 'add' }).out!);
    const session = await Session.create(gpu, compile(g));
    await session.run({ x: [1, 2, 3, 4, 5] }, { download: [] });
    const { y } = await session.run({ x: session.output('y') });
    expect(Array.from(y!)).toEqual([4, 8, 12, 16, 20]);
    session.destroy();
  });

  test('profiling gives a row per node with timings', async () => {
    const w = gpu.upload(new Float32Array(64).fill(2), [64]);
    const session = await Session.create(gpu, compile(chainGraph(8, 64, 2, w)));
    await session.run({ x: new Float32Array(8 * 64), b: new Float32Array(64) }, { profile: true });
    const rows = session.profile();
    expect(rows.map((r) => r.node)).toEqual(['add0', 'mul0', 'add1', 'mul1']);
    for (const r of rows) expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(session.profileTable()).toMatch(/add0\s+binary_add/);
    session.destroy();
    w.destroy();
  });

  test('bad inputs are named', async () => {
    const g = new Graph('named');
    const x = g.input('x', [4]);
    g.output('y', g.apply(binaryOp, { a: x, b: x }, { op: 'add' }).out!);
    const session = await Session.create(gpu, compile(g));
    await expect(session.run({})).rejects.toThrow(/input 'x' \[4\] was not given/);
    await expect(session.run({ x: [1, 2] })).rejects.toThrow(/input 'x' wants 4 values/);
    await expect(session.run({ x: [1, 2, 3, 4], z: [1] })).rejects.toThrow(/no input named 'z'/);
    session.destroy();
  });
});

describe('bucketed sessions', () => {
  test('each length runs the smallest bucket that holds it', async () => {
    const built: number[] = [];
    const buckets = new BucketedSession(gpu, [8, 2, 4], (n) => {
      built.push(n);
      const g = new Graph(`double_${n}`);
      const x = g.input('x', [n]);
      g.output('y', g.apply(binaryOp, { a: x, b: x }, { op: 'add' }).out!);
      return g;
    });
    expect(buckets.sizes).toEqual([2, 4, 8]);
    expect(buckets.bucketFor(3)).toBe(4);
    const run = async (values: number[]) => {
      const n = buckets.bucketFor(values.length);
      const padded = Float32Array.from({ length: n }, (_, i) => values[i] ?? 0);
      const { y } = await (await buckets.session(values.length)).run({ x: padded });
      return Array.from(y!.subarray(0, values.length));
    };
    expect(await run([1, 2, 3])).toEqual([2, 4, 6]);
    expect(await run([5])).toEqual([10]);
    expect(await run([1, 1, 1, 1, 1, 1, 1])).toEqual([2, 2, 2, 2, 2, 2, 2]);
    expect(await run([7, 8, 9])).toEqual([14, 16, 18]);
    expect(built).toEqual([4, 2, 8]); // compiled once each, on first use
    expect(() => buckets.bucketFor(9)).toThrow(/length 9 exceeds the largest bucket, 8/);
    await buckets.destroy();
  });
});
