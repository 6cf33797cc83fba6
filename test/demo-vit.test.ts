/**
 * The Vision Transformer demo page (demo/vit.html) in headless Chromium, started as a user starts
 * it (`node demo/serve.mjs`). With the tiny test model (`?model=/fixtures/vit-tiny-grey/`) it
 * classifies a sample, a drawing made with the mouse and an uploaded PNG; for each, its logits,
 * its top-5 and its [CLS] attention rows must equal Node's (`VisionTransformer.attentionMaps` on
 * the same bytes or pixels). No console errors; screenshots to test/artifacts/demo/.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { VisionTransformer, type ImageInput } from '../src/models/vit/index.ts';
import { artifactPath, browserAvailability } from './util/browser.ts';
import { openDemoPage, openDemoSite, type DemoSite } from './util/demo-site.ts';
import { testDevice } from './util/gpu.ts';

const TIMEOUT_MS = 120_000;
const SHOTS = artifactPath('demo');
const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'models', 'vit-tiny-grey');
const SHIPPED = join(ROOT, 'models', 'fashion-vit');
const { skip, missing } = browserAvailability();

interface VitDemoState {
  state: string;
  error?: string;
  runs: number;
  model?: { labels: string[]; grid: [number, number]; layers: number; heads: number };
  last?: {
    input: string;
    rgba?: { width: number; height: number; base64: string };
    logits: number[];
    top: { index: number; label: string; score: number }[];
    cls: number[][][];
  };
}

const readState = (page: Page) => page.evaluate(() => (window as unknown as { tessera: { vit: VitDemoState } }).tessera.vit);

async function waitForRun(page: Page, runsBefore: number): Promise<VitDemoState> {
  await page.waitForFunction((n) => {
    const vit = (window as unknown as { tessera: { vit: VitDemoState } }).tessera.vit;
    return vit.runs > n && vit.state !== 'running';
  }, runsBefore, { timeout: TIMEOUT_MS });
  return readState(page);
}

/** The page's result against Node's for the same image: top-5 ids identical, floats within tolerance. */
async function expectSameAsNode(vit: VisionTransformer, image: ImageInput, shown: VitDemoState): Promise<void> {
  expect(shown.state, shown.error).toBe('done');
  const last = shown.last!;
  const maps = await vit.attentionMaps(await vit.preprocess(image));
  const [node] = await vit.classify(image, { topK: 5 });
  expect(last.top.map((t) => t.index), `${last.input}: top-5 labels`).toEqual(node!.top.map((t) => t.index));
  last.top.forEach((t, i) => expect(Math.abs(t.score - node!.top[i]!.score)).toBeLessThan(1e-5));
  let logitError = 0;
  maps.logits.forEach((v, i) => (logitError = Math.max(logitError, Math.abs(v - last.logits[i]!))));
  expect(logitError, `${last.input}: logits`).toBeLessThan(1e-4);
  const T = maps.tokens;
  let attentionError = 0;
  maps.layers.forEach((probs, l) => {
    for (let hd = 0; hd < maps.heads; hd++) {
      for (let j = 0; j < T; j++) attentionError = Math.max(attentionError, Math.abs(probs[hd * T * T + j]! - last.cls[l]![hd]![j]!));
    }
  });
  expect(attentionError, `${last.input}: [CLS] attention rows`).toBeLessThan(1e-5);
}

if (skip) {
  console.log(skip);
  describe.skip(`ViT demo page in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('ViT demo page in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('ViT demo page in headless Chromium', () => {
    let site: DemoSite;
    let gpu: Gpu;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      [site, gpu] = await Promise.all([openDemoSite(), testDevice()]);
    }, TIMEOUT_MS);

    afterAll(async () => {
      await site?.close();
      gpu?.destroy();
    });

    test('the tiny model: a sample, a drawing and an uploaded PNG give Node\'s labels, logits and attention', async () => {
      const vit = await VisionTransformer.load(gpu, FIXTURE);
      try {
        const { page, errors } = await openDemoPage(site.context);
        await page.goto(`${site.url}vit.html?model=/fixtures/vit-tiny-grey/`);
        await page.waitForFunction(() => ['ready', 'error'].includes((window as unknown as { tessera?: { vit?: VitDemoState } }).tessera?.vit?.state ?? ''), undefined, { timeout: TIMEOUT_MS });
        const ready = await readState(page);
        expect(ready.state, ready.error).toBe('ready');
        expect(ready.model).toMatchObject({ grid: [4, 4], layers: 3, heads: 3, labels: [...vit.labels] });
        await page.waitForSelector('#vit-samples .sample', { timeout: TIMEOUT_MS });
        expect(await page.locator('#vit-samples .sample').count()).toBe(10);

        // A sample: the page fetched the PNG; Node reads the same file.
        let runs = ready.runs;
        await page.click('#vit-samples .sample[data-file="9-ankle-boot.png"]');
        const sample = await waitForRun(page, runs++);
        expect(sample.last!.input).toBe('sample:9-ankle-boot.png');
        await expectSameAsNode(vit, readFileSync(join(ROOT, 'demo', 'samples', '9-ankle-boot.png')), sample);
        expect(await page.locator('#vit-top li').count()).toBe(5);
        expect(await page.locator('#vit-attention-note').textContent()).toMatch(/^Layer 3, the mean of the heads: \[CLS\] puts/);

        // Another layer and head only redraw.
        await page.selectOption('#vit-layer', '0');
        await page.selectOption('#vit-head', '1');
        expect(await page.locator('#vit-attention-note').textContent()).toMatch(/^Layer 1, head 2: \[CLS\] puts/);
        expect((await readState(page)).runs).toBe(runs);
        await page.selectOption('#vit-layer', '2');
        await page.selectOption('#vit-head', '-1');
        await page.screenshot({ path: join(SHOTS, 'vit.png') });

        // A drawing: a stroke with the mouse; the page exposes the canvas pixels it classified.
        const box = (await page.locator('#vit-draw').boundingBox())!;
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
        await page.mouse.down();
        for (const [fx, fy] of [[0.35, 0.5], [0.5, 0.8], [0.7, 0.5], [0.72, 0.2]]) await page.mouse.move(box.x + box.width * fx!, box.y + box.height * fy!, { steps: 6 });
        await page.mouse.up();
        const drawing = await waitForRun(page, runs++);
        expect(drawing.last!.input).toBe('drawing');
        const { width, height, base64 } = drawing.last!.rgba!;
        const rgba = new Uint8Array(Buffer.from(base64, 'base64'));
        expect(rgba.length).toBe(width * height * 4);
        expect(rgba.some((v, i) => i % 4 === 0 && v > 200), 'the stroke is on the canvas').toBe(true);
        await expectSameAsNode(vit, { width, height, data: rgba }, drawing);
        await page.screenshot({ path: join(SHOTS, 'vit-drawing.png') });

        // A file from the user's disk: an RGB PNG of another size, converted and resized like PIL.
        const upload = join(ROOT, 'test', 'fixtures', 'vit-images', 'rgb-37x29.png');
        await page.setInputFiles('#vit-file', upload);
        const uploaded = await waitForRun(page, runs++);
        expect(uploaded.last!.input).toMatch(/^file:/);
        await expectSameAsNode(vit, readFileSync(upload), uploaded);

        // Not an image: a clear message, and the page keeps working.
        await page.setInputFiles('#vit-file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
        const bad = await waitForRun(page, runs++);
        expect(bad.state).toBe('error');
        expect(await page.locator('#vit-status').textContent()).toMatch(/file:notes\.png/);

        expect(errors).toEqual([]);
        await page.close();
      } finally {
        await vit.destroy();
      }
    }, TIMEOUT_MS);

    test('a model folder that is not there: the page says what to do', async () => {
      const { page } = await openDemoPage(site.context);
      await page.goto(`${site.url}vit.html?model=/fixtures/no-such-model/`);
      await page.waitForFunction(() => (window as unknown as { tessera?: { vit?: VitDemoState } }).tessera?.vit?.state === 'error', undefined, { timeout: TIMEOUT_MS });
      expect(await page.locator('#vit-status').textContent()).toMatch(/There is no model at \/fixtures\/no-such-model\/.*HTTP 404.*\?model=\/fixtures\/vit-tiny-grey\//);
      await page.close();
    }, TIMEOUT_MS);

    test.skipIf(!existsSync(join(SHIPPED, 'model.safetensors')))('the shipped models/fashion-vit: a sample gives Node\'s result', async () => {
      const vit = await VisionTransformer.load(gpu, SHIPPED);
      try {
        const { page, errors } = await openDemoPage(site.context);
        await page.goto(`${site.url}vit.html`);
        await page.waitForFunction(() => (window as unknown as { tessera?: { vit?: VitDemoState } }).tessera?.vit?.state === 'ready', undefined, { timeout: TIMEOUT_MS });
        await page.waitForSelector('#vit-samples .sample', { timeout: TIMEOUT_MS });
        const runs = (await readState(page)).runs;
        await page.click('#vit-samples .sample[data-file="0-t-shirt-top.png"]');
        const shown = await waitForRun(page, runs);
        await expectSameAsNode(vit, readFileSync(join(ROOT, 'demo', 'samples', '0-t-shirt-top.png')), shown);
        await page.screenshot({ path: join(SHOTS, 'vit-shipped.png') });
        expect(errors).toEqual([]);
        await page.close();
      } finally {
        await vit.destroy();
      }
    }, TIMEOUT_MS);
  });
}
