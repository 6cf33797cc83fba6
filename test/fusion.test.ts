// The fusion pass fires on the shipped models: models write the plain graph (matmul, add, unary,
// norm, swiglu, attention nodes), and compile picks the fused kernels. Every graph a model compiles
// for a short run is recorded, and the patterns that fired in it are counted (outputs are
// unchanged: the models' golden tests check them).
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { CompiledGraph } from '../src/graph/compile.ts';
import type { Gpu } from '../src/device/gpu.ts';
import { ImageGenerator } from '../src/models/imagegen/generator.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { MarianModel } from '../src/models/marian/model.ts';
import { VisionTransformer } from '../src/models/vit/model.ts';
import { testDevice } from './util/gpu.ts';

const compiled = vi.hoisted(() => [] as CompiledGraph[]);
vi.mock('../src/graph/compile.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/graph/compile.ts')>();
  return { ...original, compile: (...args: Parameters<typeof original.compile>) => { const c = original.compile(...args); compiled.push(c); return c; } };
});

const root = resolve(import.meta.dirname, '..');

/** graph name → pattern → times fired, for the graphs compiled while `run` ran. */
async function fusedBy(run: () => Promise<unknown>): Promise<Record<string, Record<string, number>>> {
  compiled.length = 0;
  await run();
  return Object.fromEntries(compiled.map((c) => [c.graph.name, Object.fromEntries([...c.fused].sort(([a], [b]) => a.localeCompare(b)))]));
}

describe('fusion on the shipped models', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testDevice();
  });
  afterAll(() => gpu?.destroy());

  const generate = (lm: LanguageModel) => async () => {
    for await (const _ of lm.generate([1, 2, 3], { maxNewTokens: 2, temperature: 0 }));
  };

  test('shakespeare-gpt', async () => {
    const lm = await LanguageModel.load(gpu, `${root}/models/shakespeare-gpt`);
    try {
      // 4 layers, each with 4 biased projections, one GELU and two residual adds.
      const layers = { 'matmul+activation': 4, 'matmul+bias': 16, 'matmul+residual': 8 };
      expect(await fusedBy(generate(lm))).toEqual({ gpt2_prefill_2: layers, gpt2_decode_greedy: layers });
    } finally {
      lm.destroy();
    }
  });

  test('fashion-imagegen', async () => {
    const gen = await ImageGenerator.load(gpu, `${root}/models/fashion-imagegen`);
    try {
      // 6 GPT-2 layers (as above); the prompt is prefilled in buckets, the guidance twin too.
      const layers = { 'matmul+activation': 6, 'matmul+bias': 24, 'matmul+residual': 12 };
      expect(await fusedBy(() => gen.generateTokens('a shirt', { doSample: false }))).toEqual({ gpt2_prefill_8: layers, gpt2_prefill_1: layers, 'gpt2_decode_logits_allow256-768': layers });
    } finally {
      gen.destroy();
    }
  });

  test('llama-tiny (the test checkpoint), decoding through the graph', async () => {
    const lm = await LanguageModel.load(gpu, `${root}/test/fixtures/models/llama-tiny`, { fusedDecode: false });
    try {
      // 2 layers. Prefill: the o and down residuals. Decoding one token: per layer both RMSNorms
      // fold into their projections, the gate into down and o into attention (4 dispatches a
      // block), and the final norm into the LM head.
      expect(await fusedBy(generate(lm))).toEqual({
        llama_prefill_2: { 'matmul+residual': 4 },
        llama_decode_greedy: { 'attention+projection': 2, 'matmul+residual': 4, 'rmsnorm+matvec': 5, 'swiglu+matvec': 2 },
      });
    } finally {
      lm.destroy();
    }
  });

  test('fashion-vit', async () => {
    const vit = await VisionTransformer.load(gpu, `${root}/models/fashion-vit`);
    try {
      // The patch embedding, 6 layers × (q, k, v, output, intermediate, output) and the classifier are biased.
      expect(await fusedBy(() => vit.logits(new Float32Array(28 * 28)))).toEqual({ vit_b1: { 'matmul+activation': 6, 'matmul+bias': 38, 'matmul+residual': 12 } });
    } finally {
      await vit.destroy();
    }
  });

  test('multi30k-marian', async () => {
    const marian = await MarianModel.load(gpu, `${root}/models/multi30k-marian`);
    try {
      // Encoder: 3 layers × 6 biased projections, plus the decoder's 3 × 2 cross k, v. A decoder
      // step: 3 layers × 8 biased projections (self q, k, v, out; cross q, out; fc1, fc2: the cross
      // k and v come from the encoder) and the LM head; 3 residual adds a layer.
      expect(await fusedBy(() => marian.translate(['a dog runs .'], { numBeams: 1, maxNewTokens: 2 }))).toEqual({
        marian_encoder_1x8: { 'matmul+activation': 3, 'matmul+bias': 24, 'matmul+residual': 6 },
        marian_decoder_1x1x8x2: { 'matmul+activation': 3, 'matmul+bias': 25, 'matmul+residual': 9 },
      });
    } finally {
      marian.destroy();
    }
  });
});
