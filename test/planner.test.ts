import { describe, expect, test } from 'vitest';
import type { Tensor } from '../src/device/tensor.ts';
import { compile } from '../src/graph/compile.ts';
import { Graph, type Value } from '../src/graph/graph.ts';
import { valueBytes } from '../src/graph/planner.ts';
import { binaryOp } from '../src/ops/binary.ts';
import { Rng } from './util/rng.ts';

/** A random DAG of elementwise adds over a few shapes; some values become outputs. */
function randomGraph(seed: number): Graph {
  const rng = new Rng(seed);
  const g = new Graph(`random${seed}`);
  const widths = [16, 64, 256, 1000];
  const pool: Value[] = [];
  for (let i = 0; i < 3; i++) pool.push(g.input(`x${i}`, [1 + Math.floor(rng.next() * 4), widths[Math.floor(rng.next() * widths.length)]!]));
  const nodes = 10 + Math.floor(rng.next() * 40);
  for (let i = 0; i < nodes; i++) {
    const a = pool[Math.floor(rng.next() * pool.length)]!;
    const candidates = pool.filter((v) => v.shape.length === a.shape.length && v.shape.every((d, j) => d === a.shape[j]));
    const b = candidates[Math.floor(rng.next() * candidates.length)]!;
    pool.push(g.apply(binaryOp, { a, b }, { op: rng.next() < 0.5 ? 'add' : 'mul' }, `n${i}`).out!);
  }
  g.output('last', pool[pool.length - 1]!);
  if (rng.next() < 0.5) g.output('mid', pool[Math.floor(pool.length / 2)]!);
  return g;
}

describe('memory planner', () => {
  test('values that are live at the same time never share memory (200 random graphs)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { memory, graph } = compile(randomGraph(seed));
      const planned = [...memory.slotOf.entries()];
      for (let i = 0; i < planned.length; i++) {
        for (let j = i + 1; j < planned.length; j++) {
          const [a, slotA] = planned[i]!, [b, slotB] = planned[j]!;
          if (slotA !== slotB) continue;
          const [s1, e1] = memory.lifetimes.get(a)!, [s2, e2] = memory.lifetimes.get(b)!;
          expect(e1 < s2 || e2 < s1, `seed ${seed}: values ${a} [${s1},${e1}] and ${b} [${s2},${e2}] share slot ${slotA}`).toBe(true);
        }
      }
      for (const [id, slot] of planned) expect(memory.slots[slot]).toBeGreaterThanOrEqual(valueBytes(graph.values[id]!));
      expect(memory.plannedBytes).toBeLessThanOrEqual(memory.naiveBytes);
    }
  });

  test('a chain reuses two buffers, whatever its length', () => {
    const g = new Graph('chain');
    let x = g.input('x', [4, 256]);
    const y = g.input('y', [4, 256]);
    for (let i = 0; i < 20; i++) x = g.apply(binaryOp, { a: x, b: y }, { op: 'add' }).out!;
    g.output('out', x);
    const { memory } = compile(g);
    expect(memory.slots.length).toBe(2);
    expect(memory.plannedBytes).toBe(2 * 4 * 256 * 4);
    expect(memory.naiveBytes).toBe(19 * 4 * 256 * 4);
  });

  test('a shape error names the node and the shapes', () => {
    const g = new Graph('bad');
    const a = g.input('a', [3, 5]);
    const b = g.input('b', [4]);
    expect(() => g.scope('block0', () => g.apply(binaryOp, { a, b }, { op: 'add' }, 'residual'))).toThrow(/node 'block0.residual' \(binary\).*\[4\].*\[3, 5\]/);
  });

  test('constants carry their tensor; JSON and DOT describe the graph', () => {
    const g = new Graph('tiny');
    const w = g.constant('w', { shape: [5], dtype: 'f32' } as unknown as Tensor);
    const x = g.input('x', [3, 5]);
    g.output('y', g.apply(binaryOp, { a: x, b: w }, { op: 'mul' }, 'scale').out!);
    const json = JSON.parse(JSON.stringify(g.toJSON()));
    expect(json.nodes).toHaveLength(1);
    expect(json.nodes[0]).toMatchObject({ name: 'scale', op: 'binary', attrs: { op: 'mul' } });
    const dot = g.toDot();
    expect(dot).toContain('digraph "tiny"');
    expect(dot).toMatch(/v\d+ -> n0/);
  });
});
