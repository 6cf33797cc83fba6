/**
 * The text-to-image page (demo/imagine.html) in headless Chromium, on the tiny test generator
 * (`?model=/fixtures/imagegen-tiny/`): a sampled and a greedy image must have the same token grid
 * as Node for the same prompt, options and seed, their ×4 pictures (bilinear and nearest) the same
 * bytes as Node's `render`, and the tokens must have arrived one by one in raster order with the
 * partial grid painted as they came. Bad input gives a clear message; no console errors. With the
 * shipped models/fashion-imagegen present, the default page is run too, for docs/demos.md's
 * screenshot. Screenshots go to test/artifacts/demo/.
 *
 * Needs Debian's Chromium; TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { ImageGenerator, type ImageTokenOptions } from '../src/models/imagegen/index.ts';
import { artifactPath, browserAvailability } from './util/browser.ts';
import { openDemoPage, openDemoSite, type DemoSite } from './util/demo-site.ts';
import { testDevice } from './util/gpu.ts';

/** Generous: each step takes a few seconds on an idle 2-core machine, far longer when it is shared. */
const TIMEOUT_MS = 180_000;
const SHOTS = artifactPath('demo');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'models', 'imagegen-tiny');
const SHIPPED = join(import.meta.dirname, '..', 'models', 'fashion-imagegen');
const { skip, missing } = browserAvailability();

/** `window.tessera.imagine`, as far as this test reads it. */
interface ImagineState {
  state: string;
  error?: string;
  runs: number;
  last?: { prompt: string; tokens: number[]; arrivals: number[]; paints: number; upsample: string; image: { width: number; height: number; data: number[] } };
}

const readState = (page: Page) => page.evaluate(() => (window as unknown as { tessera: { imagine: ImagineState } }).tessera.imagine);

async function waitForState(page: Page, state: string): Promise<void> {
  await page.waitForFunction((s) => (window as unknown as { tessera?: { imagine?: ImagineState } }).tessera?.imagine?.state === s, state, { timeout: TIMEOUT_MS });
}

async function generateOnPage(page: Page, fields: Record<string, string>, upsample?: string): Promise<ImagineState> {
  const runsBefore = (await readState(page)).runs;
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  if (upsample) await page.selectOption('#imagine-upsample', upsample);
  await page.click('#imagine-generate');
  await page.waitForFunction((n) => (window as unknown as { tessera: { imagine: ImagineState } }).tessera.imagine.runs > n, runsBefore, { timeout: TIMEOUT_MS });
  return readState(page);
}

/** The page's run against Node's: the same grid, the same ×4 bytes, tokens in raster order, painted as they came. */
async function expectSameAsNode(gen: ImageGenerator, run: NonNullable<ImagineState['last']>, options: ImageTokenOptions, upsample: 'nearest' | 'bilinear'): Promise<void> {
  const cells = gen.config.gridHeight * gen.config.gridWidth;
  const tokens = await gen.generateTokens(run.prompt, options);
  expect(run.tokens).toEqual(Array.from(tokens));
  expect(run.arrivals).toEqual(Array.from({ length: cells }, (_, i) => i));
  expect(run.paints).toBeGreaterThanOrEqual(1);
  const image = await gen.render(tokens, { scale: 4, upsample });
  expect([run.image.width, run.image.height]).toEqual([image.width, image.height]);
  expect(run.image.data.length).toBe(image.data.length);
  let differing = 0;
  for (let i = 0; i < image.data.length; i++) if (run.image.data[i] !== image.data[i]) differing++;
  expect(differing, `bytes of the ×4 ${upsample} picture that differ from Node's`).toBe(0);
}

if (skip) {
  console.log(skip);
  describe.skip(`text-to-image page in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('text-to-image page in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('text-to-image page in headless Chromium', () => {
    let site: DemoSite;
    let gpu: Gpu;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      [site, gpu] = await Promise.all([openDemoSite(), testDevice()]);
    }, TIMEOUT_MS);

    afterAll(async () => {
      gpu?.destroy();
      await site?.close();
    });

    describe('on the tiny test generator', () => {
      let page: Page;
      let errors: string[];
      let gen: ImageGenerator;

      beforeAll(async () => {
        gen = await ImageGenerator.load(gpu, FIXTURE);
        ({ page, errors } = await openDemoPage(site.context));
        await page.goto(site.url + 'imagine.html?model=/fixtures/imagegen-tiny/');
        await waitForState(page, 'ready');
      }, TIMEOUT_MS);

      afterAll(async () => {
        gen?.destroy();
        await page?.close();
      });

      test('it names the model; a sampled image: the same tokens and ×4 bilinear bytes as Node', async () => {
        expect(await page.locator('#imagine-model').textContent()).toMatch(/a 6×5 grid of 16 image tokens, each a 3×3 patch \(a 15×18 picture\)/);
        const run = await generateOnPage(page, { 'imagine-prompt': 'a red fox', 'imagine-temperature': '1', 'imagine-topk': '8', 'imagine-seed': '3' }, 'bilinear');
        expect(run.state, run.error).toBe('done');
        await expectSameAsNode(gen, run.last!, { temperature: 1, topK: 8, seed: 3 }, 'bilinear');
        expect(await page.locator('#imagine-counter').textContent()).toBe('30 / 30 tokens');
        expect(await page.locator('#imagine-ids span.set').count()).toBe(30);
        await page.screenshot({ path: join(SHOTS, 'imagine-fixture.png'), fullPage: true });
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);

      test('classifier-free guidance from its field: the same tokens and bytes as Node', async () => {
        const run = await generateOnPage(page, { 'imagine-prompt': 'a red fox', 'imagine-temperature': '0', 'imagine-topk': '0', 'imagine-guidance': '3' }, 'nearest');
        expect(run.state, run.error).toBe('done');
        await expectSameAsNode(gen, run.last!, { guidanceScale: 3 }, 'nearest');
        expect(run.last!.tokens).not.toEqual(Array.from(await gen.generateTokens('a red fox')));
        await page.fill('#imagine-guidance', '1');
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);

      test('greedy, nearest: the same tokens and bytes as Node', async () => {
        const run = await generateOnPage(page, { 'imagine-prompt': 'two cats', 'imagine-temperature': '0', 'imagine-topk': '0' }, 'nearest');
        expect(run.state, run.error).toBe('done');
        await expectSameAsNode(gen, run.last!, {}, 'nearest');
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);

      test('bad input: a clear message, no run', async () => {
        await page.evaluate(() => ((document.getElementById('imagine-form') as HTMLFormElement).noValidate = true));
        const rejected = await generateOnPage(page, { 'imagine-temperature': '9' });
        expect(rejected.state).toBe('error');
        expect(rejected.error).toMatch(/Temperature must be a number from 0 to 5, got '9'/);
        expect(await page.locator('#imagine-status').textContent()).toMatch(/Temperature must be/);
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);
    });

    describe.runIf(existsSync(join(SHIPPED, 'model.safetensors')))('on the shipped fashion-imagegen', () => {
      test('an example prompt: Node\'s tokens and pixels (the screenshot in docs/demos.md)', async () => {
        const { page, errors } = await openDemoPage(site.context);
        const gen = await ImageGenerator.load(gpu, SHIPPED);
        try {
          await page.goto(site.url + 'imagine.html');
          await waitForState(page, 'ready');
          const run = await generateOnPage(page, {}, 'bilinear');
          expect(run.state, run.error).toBe('done');
          await expectSameAsNode(gen, run.last!, { temperature: 1, topK: 16, seed: 3 }, 'bilinear');
          await page.screenshot({ path: join(SHOTS, 'imagine.png'), fullPage: true });
          expect(errors).toEqual([]);
        } finally {
          gen.destroy();
          await page.close();
        }
      }, TIMEOUT_MS);
    });
  });
}
