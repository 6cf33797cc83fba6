import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import type { Tensor } from '../src/device/tensor.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { compile } from '../src/graph/compile.ts';
import type { Value } from '../src/graph/graph.ts';
import { Session } from '../src/runtime/session.ts';
import { Rng } from './util/rng.ts';
import { testDevice } from './util/gpu.ts';
import { transformerForward, type BlockWeights } from './util/transformer-ref.ts';

const T = 13, D = 48, HEADS = 4, HIDDEN = 4 * D, EPS = 1e-5;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

function randomBlocks(rng: Rng, n: number): BlockWeights[] {
  const lin = (o: number, i: number) => ({ w: rng.normal(o * i, 1 / Math.sqrt(i)), b: rng.normal(o, 0.1) });
  const ln = () => ({ w: rng.uniform(D, 0.5, 1.5), b: rng.normal(D, 0.1) });
  return Array.from({ length: n }, () => ({ ln1: ln(), q: lin(D, D), k: lin(D, D), v: lin(D, D), proj: lin(D, D), ln2: ln(), fc: lin(HIDDEN, D), out: lin(D, HIDDEN) }));
}

/** The same two pre-LN blocks, written with the builder exactly like the math. */
function buildTransformer(blocks: BlockWeights[], upload: (name: string, data: Float32Array, shape: number[]) => Tensor): GraphBuilder {
  const g = new GraphBuilder('transformer');
  let x = g.input('x', [1, T, D]);
  blocks.forEach((blk, i) =>
    g.scope(`h${i}`, () => {
      const w = (name: string, p: { w: Float32Array; b: Float32Array }, out: number, inp: number) => ({
        w: g.constant(`${name}.w`, upload(`${i}.${name}.w`, p.w, [out, inp])),
        b: g.constant(`${name}.b`, upload(`${i}.${name}.b`, p.b, [out])),
      });
      const ln1 = w('ln1', blk.ln1, D, 1), ln2 = w('ln2', blk.ln2, D, 1);
      const q = w('q', blk.q, D, D), k = w('k', blk.k, D, D), v = w('v', blk.v, D, D), proj = w('proj', blk.proj, D, D);
      const fc = w('fc', blk.fc, HIDDEN, D), out = w('out', blk.out, D, HIDDEN);
      const linear = (h: Value, p: { w: Value; b: Value }, name: string) => g.add(g.matmul(h, p.w, { transposeB: true, name }), p.b, `${name}.bias`);

      const h = g.layerNorm(x, g.reshape(ln1.w, [D]), ln1.b, EPS, 'ln1');
      const att = g.attention(linear(h, q, 'q'), linear(h, k, 'k'), linear(h, v, 'v'), { numHeads: HEADS, headDim: D / HEADS, causal: true }).out;
      x = g.add(x, linear(att, proj, 'proj'), 'residual1');
      const m = g.layerNorm(x, g.reshape(ln2.w, [D]), ln2.b, EPS, 'ln2');
      x = g.add(x, linear(g.gelu(linear(m, fc, 'fc')), out, 'out'), 'residual2');
    }),
  );
  g.output('y', x);
  return g;
}

describe('a Transformer built with the graph builder', () => {
  test('matches a float64 CPU forward, with and without fusion', async () => {
    const rng = new Rng(2024);
    const blocks = randomBlocks(rng, 2);
    const x = rng.normal(T * D);
    const want = transformerForward(x, T, D, HEADS, HIDDEN, blocks, EPS);
    const weights: Tensor[] = [];
    const upload = (_: string, data: Float32Array, shape: number[]) => {
      const t = gpu.upload(data, shape[1] === 1 ? [shape[0]!] : shape);
      weights.push(t);
      return t;
    };
    const results: Float32Array[] = [];
    for (const fuse of [false, true]) {
      const graph = buildTransformer(blocks, upload);
      const compiled = compile(graph, { fuse });
      const session = await Session.create(gpu, compiled);
      const { y } = await session.run({ x });
      results.push(y as Float32Array);
      let maxErr = 0;
      for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(y![i]! - want[i]!));
      expect(maxErr, `fuse=${fuse}: max abs error ${maxErr}`).toBeLessThan(2e-4);
      if (fuse) {
        // Bias, GELU and both residual adds are folded into matmuls: 2 × (3 + 1 + 2) matmuls,
        // 2 × 2 layernorms and 2 attentions remain.
        expect(compiled.schedule.map((n) => n.op.name).filter((n) => n === 'binary' || n === 'unary')).toEqual([]);
        expect(compiled.schedule).toHaveLength(2 * (6 + 2 + 1));
        expect(session.memory.plannedBytes).toBeLessThan(session.memory.naiveBytes);
      }
      session.destroy();
    }
    for (let i = 0; i < results[0]!.length; i++) expect(Math.abs(results[0]![i]! - results[1]![i]!)).toBeLessThan(1e-5);
    weights.forEach((t) => t.destroy());
  });
});

describe('fusion of a residual add into the norm that follows it', () => {
  test('add → layerNorm becomes one layernorm that also writes the sum, with the same results', async () => {
    const rng = new Rng(5);
    const rows = 7, dim = 67;
    const w = gpu.upload(rng.uniform(dim, 0.5, 1.5), [dim]), b = gpu.upload(rng.normal(dim, 0.1), [dim]);
    const x = rng.normal(rows * dim), r = rng.normal(rows * dim);
    const outputs: Record<string, Float32Array>[] = [];
    for (const fuse of [false, true]) {
      const g = new GraphBuilder('add_ln');
      const xv = g.input('x', [rows, dim]), rv = g.input('r', [rows, dim]);
      const sum = g.add(xv, rv, 'residual');
      g.output('normed', g.layerNorm(sum, g.constant('w', w), g.constant('b', b), 1e-5, 'ln'));
      g.output('stream', g.mul(sum, sum, 'square')); // the sum is still needed after the norm
      const compiled = compile(g, { fuse });
      expect(compiled.schedule.map((n) => n.op.name)).toEqual(fuse ? ['layernorm', 'binary'] : ['binary', 'layernorm', 'binary']);
      const session = await Session.create(gpu, compiled);
      outputs.push((await session.run({ x, r })) as Record<string, Float32Array>);
      session.destroy();
    }
    for (const name of ['normed', 'stream']) {
      const [a, c] = [outputs[0]![name]!, outputs[1]![name]!];
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!)).toBeLessThan(1e-5);
    }
    for (let i = 0; i < rows * dim; i++) expect(outputs[1]!.stream![i]).toBeCloseTo((x[i]! + r[i]!) ** 2, 4);
    w.destroy();
    b.destroy();
  });
});
