// The shipped image generator (models/fashion-imagegen): Tessera draws the same greedy grids as the
// training script's PyTorch model, and the class-agreement metric of `tessera eval` works end to end.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { classAgreement, IMAGEGEN_PROMPTS } from '../src/cli/imagegen-eval.ts';
import type { Gpu } from '../src/device/gpu.ts';
import { ImageGenerator } from '../src/models/imagegen/generator.ts';
import { parseSafetensors } from '../src/models/safetensors.ts';
import { VisionTransformer } from '../src/models/vit/model.ts';
import { testDevice } from './util/gpu.ts';

const root = resolve(import.meta.dirname, '..');
const genDir = join(root, 'models/fashion-imagegen');
const vitDir = join(root, 'models/fashion-vit');
const metrics = JSON.parse(readFileSync(join(genDir, 'metrics.json'), 'utf8')) as { greedy_grids: Record<string, number[]> };

describe('fashion-imagegen', () => {
  let gpu: Gpu;
  let gen: ImageGenerator;
  beforeAll(async () => {
    gpu = await testDevice();
    gen = await ImageGenerator.load(gpu, genDir);
  });
  afterAll(() => {
    gen?.destroy();
    gpu?.destroy();
  });

  test('a 7×7 grid of 4×4 grey patches: 28×28 like Fashion-MNIST, prompts are bytes', () => {
    expect([gen.width, gen.height]).toEqual([28, 28]);
    expect(gen.imageTokens).toEqual({ start: 256, end: 768 });
    const codebook = parseSafetensors(readFileSync(join(genDir, 'model.safetensors')), 'model.safetensors').raw('codebook');
    expect(codebook.length).toBe(512 * 16 * 3);
    for (let i = 0; i < codebook.length; i += 3) {
      expect(codebook[i + 1]).toBe(codebook[i]);
      expect(codebook[i + 2]).toBe(codebook[i]);
    }
    expect(gen.promptIds('a bag')).toEqual([768, ...new TextEncoder().encode('a bag'), 769]);
  });

  test("greedy grids are PyTorch's (training script, float32)", async () => {
    for (const prompt of IMAGEGEN_PROMPTS.slice(0, 2)) {
      const tokens = await gen.generateTokens(prompt);
      expect([...tokens], prompt).toEqual(metrics.greedy_grids[prompt]);
    }
  }, 120_000);

  test('class agreement: one image per class through the shipped fashion-vit', async () => {
    const vit = await VisionTransformer.load(gpu, vitDir, { maxBatch: 64 });
    try {
      const r = await classAgreement(gen, vit, 1);
      expect(r.seedsPerClass).toBe(1);
      expect(r.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(new Array(10).fill(1));
      r.perClass.forEach((share, label) => expect(share).toBe(r.confusion[label]![label]));
      expect(r.mean).toBeCloseTo(r.perClass.reduce((a, b) => a + b, 0) / 10, 12);
      expect(r.mean).toBeGreaterThanOrEqual(0.5); // seeded: a fixed draw; the real figure uses 50 seeds
    } finally {
      await vit.destroy();
    }
  }, 120_000);

  test('a classifier that does not fit (classes, image size) is refused', async () => {
    const vit = await VisionTransformer.load(gpu, join(root, 'test/fixtures/models/vit-tiny'));
    try {
      await expect(classAgreement(gen, vit, 1)).rejects.toThrow(UsageError);
    } finally {
      await vit.destroy();
    }
  });
});
