/**
 * ViT classification against PyTorch (tools/reference/vit_reference.py): two tiny random
 * ViTForImageClassification checkpoints in Hugging Face layout (RGB with q/k/v biases; greyscale
 * without), logits of normalised tensors and of PNG files that need resizing, PIL's resize
 * reproduced to the byte, batching, and the errors a user meets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { classToken } from '../src/ops/class-token.ts';
import { writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { parseSafetensors } from '../src/models/safetensors.ts';
import { convertChannels, loadImage, resizePil, VisionTransformer } from '../src/models/vit/index.ts';
import { testDevice } from './util/gpu.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const IMAGES = join(FIXTURES, 'vit-images');
const modelDir = (name: string) => join(FIXTURES, 'models', name);

interface Golden {
  tensors: { shape: number[]; pixels: number[]; logits: number[][] };
  interpolated: { shape: number[]; pixels: number[]; logits: number[][] }[];
  images: { file: string; resized: number[]; logits: number[]; index: number }[];
}
const golden = (name: string): Golden => JSON.parse(readFileSync(join(modelDir(name), 'golden.json'), 'utf8'));

function maxAbsError(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  return err;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

for (const name of ['vit-tiny', 'vit-tiny-grey']) {
  describe(`${name} matches PyTorch`, () => {
    const g = golden(name);
    let vit: VisionTransformer;
    beforeAll(async () => {
      vit = await VisionTransformer.load(gpu, modelDir(name), { maxBatch: 4 });
    });
    afterAll(() => vit?.destroy());

    test('logits of normalised pixel tensors (batch of 3) within 1e-4', async () => {
      const logits = await vit.logits(Float32Array.from(g.tensors.pixels));
      const err = maxAbsError(logits, g.tensors.logits.flat());
      expect(err).toBeLessThanOrEqual(1e-4);
    });

    test('other image sizes: position embeddings interpolated like HF interpolate_pos_encoding, logits within 1e-4', async () => {
      for (const { shape, pixels, logits } of g.interpolated) {
        const [, , height, width] = shape as [number, number, number, number];
        const other = await VisionTransformer.load(gpu, modelDir(name), { imageSize: [height, width] });
        try {
          expect(other.config.imageHeight).toBe(height);
          expect(other.preprocessor.width).toBe(width);
          const err = maxAbsError(await other.logits(Float32Array.from(pixels)), logits.flat());
          expect(err, `${height}×${width}`).toBeLessThanOrEqual(1e-4);
        } finally {
          await other.destroy();
        }
      }
    });

    const pngs = g.images.filter((i) => i.file.endsWith('.png'));
    test("decoding, channel conversion and PIL's bilinear resize give PIL's bytes exactly", async () => {
      const C = vit.config.numChannels as 1 | 3;
      for (const image of pngs) {
        const rgba = await loadImage(join(IMAGES, image.file));
        const resized = resizePil(convertChannels(rgba, C), rgba.width, rgba.height, C, vit.preprocessor.width, vit.preprocessor.height, 2);
        const mismatches = Array.from(resized).filter((v, i) => v !== image.resized[i]).length;
        expect(mismatches, `${image.file}: bytes that differ from PIL's`).toBe(0);
      }
    });

    test('classify(PNG files of other sizes, RGB/RGBA/L/P) gives PyTorch logits within 1e-4 and its labels', async () => {
      const files = pngs.map((i) => readFileSync(join(IMAGES, i.file)));
      const results = await vit.classify(files, { topK: 3 });
      results.forEach((r, i) => {
        const want = pngs[i]!;
        expect(maxAbsError(r.logits, want.logits), want.file).toBeLessThanOrEqual(1e-4);
        expect(r.index, want.file).toBe(want.index);
        expect(r.label).toBe(vit.labels[want.index]);
        expect(r.top).toHaveLength(3);
        expect(r.top[0]!.index).toBe(r.index);
        expect(r.top[0]!.score).toBeGreaterThanOrEqual(r.top[1]!.score);
        const probs = Array.from(r.logits, (v) => Math.exp(v));
        expect(r.score).toBeCloseTo(probs[r.index]! / probs.reduce((a, b) => a + b), 6);
      });
    });

    test('one image at a time gives the same logits as the batches (6 images, maxBatch 4: a batch of 4, then one of 2)', async () => {
      const files = pngs.map((i) => readFileSync(join(IMAGES, i.file)));
      expect(files).toHaveLength(6);
      const batched = await vit.classify(files);
      for (let i = 0; i < files.length; i++) {
        const [single] = await vit.classify(files[i]!);
        expect(maxAbsError(single!.logits, Array.from(batched[i]!.logits))).toBeLessThanOrEqual(1e-5);
      }
    });

    test('a JPEG decoded by jpeg-js lands close to PIL/libjpeg (not exactly: see docs/api.md)', async () => {
      const jpeg = g.images.find((i) => i.file.endsWith('.jpg'))!;
      const C = vit.config.numChannels as 1 | 3;
      const rgba = await loadImage(join(IMAGES, jpeg.file));
      const resized = resizePil(convertChannels(rgba, C), rgba.width, rgba.height, C, vit.preprocessor.width, vit.preprocessor.height, 2);
      // jpeg-js replicates 4:2:0 chroma where libjpeg interpolates it: a level or two on average.
      const diffs = Array.from(resized, (v, i) => Math.abs(v - jpeg.resized[i]!));
      expect(diffs.reduce((a, b) => a + b) / diffs.length).toBeLessThan(2);
      expect(Math.max(...diffs)).toBeLessThanOrEqual(16);
      const [r] = await vit.classify(readFileSync(join(IMAGES, jpeg.file)));
      expect(r!.logits).toHaveLength(vit.labels.length);
    });
  });
}

describe('the class-token op', () => {
  test('rejects positions of the wrong length, naming the shapes', () => {
    const patches = gpu.upload(new Float32Array(2 * 4 * 3), [2, 4, 3]), cls = gpu.upload(new Float32Array(3), [3]), positions = gpu.upload(new Float32Array(4 * 3), [4, 3]);
    expect(() => classToken(gpu, patches, cls, positions)).toThrow(/positions \[4, 3\] must be \[5, 3\]/);
    [patches, cls, positions].forEach((t) => t.destroy());
  });
});

describe('errors name the problem', () => {
  const dir = modelDir('vit-tiny');
  const config = () => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weights = readFileSync(join(dir, 'model.safetensors'));

  test('a checkpoint with a missing and a mis-shaped tensor', async () => {
    const file = parseSafetensors(weights);
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const n of file.names) {
      if (n === 'vit.encoder.layer.1.intermediate.dense.bias') continue;
      tensors[n] = { dtype: 'F32', shape: [...file.shapes.get(n)!], data: file.float32(n) };
    }
    tensors['classifier.bias'] = { dtype: 'F32', shape: [4], data: new Float32Array(4) };
    const broken = writeSafetensors(tensors);
    await expect(VisionTransformer.fromBuffers(gpu, { config: config(), weights: broken })).rejects.toThrow(
      /missing tensor 'vit\.encoder\.layer\.1\.intermediate\.dense\.bias'[\s\S]*'classifier\.bias' has shape \[4\], expected \[5\]/,
    );
  });

  test('config values that cannot work', async () => {
    await expect(VisionTransformer.fromBuffers(gpu, { config: { ...config(), num_attention_heads: 3 }, weights })).rejects.toThrow(/hidden_size 40 does not divide by num_attention_heads 3/);
    await expect(VisionTransformer.fromBuffers(gpu, { config: { ...config(), image_size: 25 }, weights })).rejects.toThrow(/image_size 25×25 is not a multiple of patch_size 6/);
    await expect(VisionTransformer.fromBuffers(gpu, { config: { ...config(), hidden_act: 'swish' }, weights })).rejects.toThrow(/hidden_act 'swish' is not supported/);
    await expect(VisionTransformer.fromBuffers(gpu, { config: config(), preprocessor: { size: { height: 32, width: 32 } }, weights })).rejects.toThrow(
      /resizes to 32×32 but the model's position embeddings are for 24×24 .*load with \{ imageSize \}/,
    );
    await expect(VisionTransformer.fromBuffers(gpu, { config: config(), preprocessor: { image_mean: [0.5, 0.5] }, weights })).rejects.toThrow(/'image_mean' has 2 values but the model has 3 channels/);
    await expect(VisionTransformer.fromBuffers(gpu, { config: config(), weights }, { imageSize: [30, 32] })).rejects.toThrow(/imageSize 30×32 must be positive multiples of the patch size 6/);
  });

  test('bad images and tensors', async () => {
    const vit = await VisionTransformer.load(gpu, dir);
    try {
      await expect(vit.classify(new TextEncoder().encode('GIF89a...'))).rejects.toThrow(/not a PNG or JPEG file \(starts with 47 49 46 38\)/);
      await expect(vit.classify({ width: 3, height: 2, data: new Uint8Array(20) })).rejects.toThrow(/3×2 RGBA pixels need 24 bytes, got 20/);
      await expect(loadImage(join(IMAGES, 'nope.png'))).rejects.toThrow(/cannot read image '.*nope\.png' \(ENOENT\)/);
      const truncated = readFileSync(join(IMAGES, 'rgb-37x29.png')).subarray(0, 100);
      await expect(vit.classify(truncated)).rejects.toThrow(/cannot decode this PNG file/);
      await expect(vit.logits(new Float32Array(3 * 24 * 24 + 1))).rejects.toThrow(/not a whole number of 3×24×24 images/);
      await expect(vit.classify(readFileSync(join(IMAGES, 'rgb-24x24.png')), { topK: 0 })).rejects.toThrow(/topK must be a positive integer/);
      // The model still works after every error.
      const [r] = await vit.classify(readFileSync(join(IMAGES, 'rgb-24x24.png')), { topK: 50 });
      expect(r!.top).toHaveLength(5); // topK is capped at the number of labels
    } finally {
      await vit.destroy();
    }
  });
});
