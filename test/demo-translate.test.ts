/**
 * The translation demo page (demo/translate.html) in headless Chromium, started as a user starts
 * it (`node demo/serve.mjs`). With the tiny test model (`?model=/fixtures/marian-tiny/`, which
 * has no tokenizer, so the page takes ids) it translates with beam search and with greedy search;
 * the ids must equal Node's (`MarianModel.generate`), the beam score and every layer's
 * cross-attention matrix must match Node's (`MarianModel.crossAttention`) within tolerance.
 * With the shipped models/multi30k-marian (when trained), the same for English text. No console
 * errors; screenshots to test/artifacts/demo/.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { MarianModel } from '../src/models/marian/index.ts';
import { artifactPath, browserAvailability } from './util/browser.ts';
import { openDemoPage, openDemoSite, type DemoSite } from './util/demo-site.ts';
import { testDevice } from './util/gpu.ts';

const TIMEOUT_MS = 300_000; // SwiftShader compiles each pipeline slowly (the encoder, two beam-step graphs, the probs graph)
const SHOTS = artifactPath('demo');
const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'models', 'marian-tiny');
const SHIPPED = join(ROOT, 'models', 'multi30k-marian');
const { skip, missing } = browserAvailability();

interface TranslateDemoState {
  state: string;
  error?: string;
  runs: number;
  model?: { tokenizer: boolean; layers: number; heads: number };
  last?: { sourceIds: number[]; numBeams: number; maxNewTokens: number; ids: number[]; score?: number; text?: string; sourceTokens: string[]; targetTokens: string[]; cross: number[][] };
}

const readState = (page: Page) => page.evaluate(() => (window as unknown as { tessera: { translate: TranslateDemoState } }).tessera.translate);

async function openTranslate(site: DemoSite, query: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openDemoPage(site.context);
  await opened.page.goto(`${site.url}translate.html${query}`);
  await opened.page.waitForFunction(() => ['ready', 'error'].includes((window as unknown as { tessera?: { translate?: TranslateDemoState } }).tessera?.translate?.state ?? ''), undefined, { timeout: TIMEOUT_MS });
  return opened;
}

async function translateOnPage(page: Page, source: string, beams: number, maxNewTokens: number): Promise<TranslateDemoState> {
  const runs = (await readState(page)).runs;
  await page.fill('#tr-source', source);
  await page.fill('#tr-beams', String(beams));
  await page.fill('#tr-max', String(maxNewTokens));
  const started = Date.now();
  await page.click('#tr-run');
  await page.waitForFunction((n) => {
    const t = (window as unknown as { tessera: { translate: TranslateDemoState } }).tessera.translate;
    return t.runs > n && t.state !== 'running';
  }, runs, { timeout: TIMEOUT_MS });
  console.log(`translation demo: ${beams} beam${beams > 1 ? 's' : ''}, '${source}': ${Date.now() - started} ms on the page`);
  return readState(page);
}

/** The page's translation against Node's: ids identical, score and cross-attention within tolerance. */
async function expectSameAsNode(model: MarianModel, shown: TranslateDemoState): Promise<void> {
  expect(shown.state, shown.error).toBe('done');
  const last = shown.last!;
  const [node] = await model.generate([last.sourceIds], { numBeams: last.numBeams, maxNewTokens: last.maxNewTokens });
  expect(last.ids).toEqual(node!.ids);
  if (last.numBeams > 1) expect(Math.abs(last.score! - node!.score!)).toBeLessThan(1e-4);
  const maps = await model.crossAttention(last.sourceIds, node!.ids);
  expect(last.cross.length).toBe(maps.layers.length);
  let worst = 0;
  maps.layers.forEach((layer, l) => layer.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - last.cross[l]![i]!)))));
  expect(worst, 'cross-attention against Node').toBeLessThan(1e-5);
  expect(last.targetTokens.length).toBe(node!.ids.length);
  expect(last.sourceTokens.length).toBe(last.sourceIds.length);
}

if (skip) {
  console.log(skip);
  describe.skip(`translation demo page in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('translation demo page in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('translation demo page in headless Chromium', () => {
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

    test('the tiny model (ids): beam and greedy search give Node\'s ids, score and alignment', async () => {
      const model = await MarianModel.load(gpu, FIXTURE);
      try {
        const { page, errors } = await openTranslate(site, '?model=/fixtures/marian-tiny/');
        const ready = await readState(page);
        expect(ready.state, ready.error).toBe('ready');
        expect(ready.model).toEqual({ url: '/fixtures/marian-tiny/', tokenizer: false, layers: 3, heads: 2 });

        const beam = await translateOnPage(page, '44 12 9 80 3 71 26 50 0', 3, 10);
        await expectSameAsNode(model, beam);
        const [S, T] = [beam.last!.sourceIds.length, beam.last!.ids.length];
        expect(await page.locator('#tr-matrix .cell').count()).toBe(S * T);
        expect(await page.locator('#tr-matrix .col-head').count()).toBe(S);

        // Another layer and head only redraw; hovering a cell names its tokens and weight.
        await page.selectOption('#tr-layer', '0');
        await page.selectOption('#tr-head', '1');
        const cell = page.locator('#tr-matrix .cell[data-row="1"][data-col="2"]');
        await cell.hover();
        const head = beam.last!.cross[0]!.slice((1 * T + 1) * S, (1 * T + 1) * S + S)[2]!; // layer 1, head 2, row 1, column 2
        expect(await page.locator('#tr-hover').textContent()).toBe(
          `Producing '${beam.last!.targetTokens[1]}', the decoder put ${(100 * head).toFixed(1)} % of its attention on source token '${beam.last!.sourceTokens[2]}'.`,
        );
        await page.selectOption('#tr-layer', '2');
        await page.selectOption('#tr-head', '-1');
        await page.screenshot({ path: join(SHOTS, 'translate-tiny.png') });

        const greedy = await translateOnPage(page, '5, 17, 33, 2, 61, 0', 1, 12);
        await expectSameAsNode(model, greedy);

        // Bad input: a clear message, no run.
        const bad = await translateOnPage(page, '5 17 x', 2, 5);
        expect(bad.state).toBe('error');
        expect(bad.error).toMatch(/'x' is not a token id/);
        const tooMany = await translateOnPage(page, '5 0', 9, 5);
        expect(tooMany.error).toMatch(/Beams must be a whole number from 1 to 8, got '9'/);
        const outside = await translateOnPage(page, '5 900 0', 2, 5);
        expect(outside.error).toMatch(/token id 900 at index 1 is not in the vocabulary \[0, 89\)/);

        expect(errors).toEqual([]);
        await page.close();
      } finally {
        model.destroy();
      }
    }, TIMEOUT_MS);

    test('a model folder that is not there: the page says what to do', async () => {
      const { page } = await openTranslate(site, '?model=/fixtures/no-such-model/');
      expect((await readState(page)).state).toBe('error');
      expect(await page.locator('#tr-status').textContent()).toMatch(/There is no model at \/fixtures\/no-such-model\/.*HTTP 404.*\?model=\/fixtures\/marian-tiny\//);
      await page.close();
    }, TIMEOUT_MS);

    test.skipIf(!existsSync(join(SHIPPED, 'model.safetensors')))('the shipped models/multi30k-marian: English text gives Node\'s translation and alignment', async () => {
      const model = await MarianModel.load(gpu, SHIPPED);
      try {
        const { page, errors } = await openTranslate(site, '');
        const ready = await readState(page);
        expect(ready.state, ready.error).toBe('ready');
        expect(ready.model!.tokenizer).toBe(true);
        const shown = await translateOnPage(page, 'A little girl climbs into a wooden playhouse.', 4, 40);
        await expectSameAsNode(model, shown);
        expect(shown.last!.sourceIds).toEqual(model.tokenizer!.encode('A little girl climbs into a wooden playhouse.'));
        expect(shown.last!.text).toBe(model.tokenizer!.decode(shown.last!.ids));
        expect(await page.locator('#tr-text').textContent()).toBe(shown.last!.text);
        console.log(`translation demo, shipped model: '${shown.last!.text}'`);
        await page.screenshot({ path: join(SHOTS, 'translate.png') });
        expect(errors).toEqual([]);
        await page.close();
      } finally {
        model.destroy();
      }
    }, TIMEOUT_MS);
  });
}
