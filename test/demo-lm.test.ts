/**
 * The language-model page (demo/lm.html) in headless Chromium, on the byte-level test model
 * (`?model=/fixtures/gpt2-bytes-tiny/`): sampled and greedy generations must give the same ids as
 * Node for the same prompt, options and seed, and the attention maps the page shows must equal
 * Node's `attentionMaps` of the same sequence (within 1e-4). Hovering a token colours the tokens
 * it attended to; bad input and a missing model give clear messages; no console errors.
 * With the shipped models/shakespeare-gpt present, the default page is run too, for the README's
 * screenshot. Screenshots go to test/artifacts/demo/.
 *
 * Needs Debian's Chromium; TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import type { GenerateOptions } from '../src/models/lm/options.ts';
import { artifactPath, browserAvailability } from './util/browser.ts';
import { openDemoPage, openDemoSite, type DemoSite } from './util/demo-site.ts';
import { testDevice } from './util/gpu.ts';

/** Generous: each step takes a few seconds on an idle 2-core machine, far longer when it is shared. */
const TIMEOUT_MS = 180_000;
const SHOTS = artifactPath('demo');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'models', 'gpt2-bytes-tiny');
const SHIPPED = join(import.meta.dirname, '..', 'models', 'shakespeare-gpt');
const { skip, missing } = browserAvailability();

/** `window.tessera.lm`, as far as this test reads it. */
interface LmState {
  state: string;
  error?: string;
  runs: number;
  last?: { promptIds: number[]; ids: number[]; text: string; mapTokens: number; maps: number[][] };
}

const readState = (page: Page) => page.evaluate(() => (window as unknown as { tessera: { lm: LmState } }).tessera.lm);

async function generateOnPage(page: Page, fields: Record<string, string>): Promise<LmState> {
  const runsBefore = (await readState(page)).runs;
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click('#lm-generate');
  await page.waitForFunction((n) => (window as unknown as { tessera: { lm: LmState } }).tessera.lm.runs > n, runsBefore, { timeout: TIMEOUT_MS });
  return readState(page);
}

async function waitForState(page: Page, state: string): Promise<void> {
  await page.waitForFunction((s) => (window as unknown as { tessera?: { lm?: LmState } }).tessera?.lm?.state === s, state, { timeout: TIMEOUT_MS });
}

async function nodeIds(lm: LanguageModel, prompt: string, options: GenerateOptions): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of lm.generate(prompt, options)) ids.push(t.id);
  return ids;
}

if (skip) {
  console.log(skip);
  describe.skip(`language-model page in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('language-model page in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('language-model page in headless Chromium', () => {
    let site: DemoSite;
    let gpu: Gpu;
    let lm: LanguageModel;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      [site, gpu] = await Promise.all([openDemoSite(), testDevice()]);
      lm = await LanguageModel.load(gpu, FIXTURE);
    }, TIMEOUT_MS);

    afterAll(async () => {
      lm?.destroy();
      gpu?.destroy();
      await site?.close();
    });

    describe('on the byte-level test model', () => {
      let page: Page;
      let errors: string[];
      let run: NonNullable<LmState['last']>;

      beforeAll(async () => {
        ({ page, errors } = await openDemoPage(site.context));
        await page.goto(site.url + 'lm.html?model=/fixtures/gpt2-bytes-tiny/');
        await waitForState(page, 'ready');
      }, TIMEOUT_MS);

      afterAll(async () => {
        expect(errors).toEqual([]);
        await page?.close();
      });

      test('it names the model; a sampled generation gives Node\'s ids for the same prompt, options and seed', async () => {
        expect(await page.locator('#lm-model').textContent()).toMatch(/2 layers × 4 heads, width 48, context 64 tokens, vocabulary 256/);
        const prompt = 'To be, or not';
        const sampled = await generateOnPage(page, { 'lm-prompt': prompt, 'lm-max': '30', 'lm-temperature': '0.9', 'lm-topk': '12', 'lm-seed': '7' });
        expect(sampled.state, sampled.error).toBe('done');
        run = sampled.last!;
        expect(run.promptIds).toEqual([...Buffer.from(prompt)]);
        expect(run.ids.length).toBe(30);
        expect(run.ids).toEqual(await nodeIds(lm, prompt, { maxNewTokens: 30, temperature: 0.9, topK: 12, seed: 7 }));
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);

      test('its attention maps equal Node\'s; hovering a token colours the tokens it attended to', async () => {
        // The maps cover prompt + continuation; Node computes them for the same ids.
        const all = [...run.promptIds, ...run.ids];
        expect(run.mapTokens).toBe(all.length);
        const want = await lm.attentionMaps(all);
        expect(run.maps.length).toBe(2);
        let worst = 0;
        run.maps.forEach((map, layer) => {
          expect(map.length).toBe(4 * all.length * all.length);
          for (let i = 0; i < map.length; i++) worst = Math.max(worst, Math.abs(map[i]! - want[layer]![i]!));
        });
        expect(worst, 'page vs Node attention maps').toBeLessThan(1e-4);

        // Token 10 of layer 1, head 2: tokens 0..10 get a colour, later ones are dimmed, the strongest weights are listed.
        await page.selectOption('#lm-layer', '1');
        await page.selectOption('#lm-head', '2');
        await page.hover('#lm-output .tok[data-index="10"]');
        expect(await page.locator('#lm-output .tok.hovered').getAttribute('data-index')).toBe('10');
        expect(await page.locator('#lm-output .tok[style*="background"]').count()).toBe(11);
        expect(await page.locator('#lm-output .tok.future').count()).toBe(all.length - 11);
        expect(await page.locator('#lm-hover-caption').textContent()).toMatch(/^Token 10 \('n'\), head 2 of layer 1:/);
        const top = await page.locator('#lm-top li .num').allTextContents();
        const row = Array.from(want[1]!.subarray((2 * all.length + 10) * all.length, (2 * all.length + 10) * all.length + 11));
        expect(Number(top[0])).toBeCloseTo(Math.max(...row), 3);
        await page.screenshot({ path: join(SHOTS, 'lm-fixture.png'), fullPage: true });
      }, TIMEOUT_MS);

      test('greedy: Node\'s ids again', async () => {
        const greedy = await generateOnPage(page, { 'lm-prompt': 'Now is the winter', 'lm-max': '20', 'lm-temperature': '0', 'lm-topk': '0' });
        expect(greedy.state, greedy.error).toBe('done');
        expect(greedy.last!.ids).toEqual(await nodeIds(lm, 'Now is the winter', { maxNewTokens: 20 }));
      }, TIMEOUT_MS);

      test('bad input: a clear message, no run', async () => {
        await page.evaluate(() => ((document.getElementById('lm-form') as HTMLFormElement).noValidate = true));
        const rejected = await generateOnPage(page, { 'lm-seed': '-1' });
        expect(rejected.state).toBe('error');
        expect(rejected.error).toMatch(/Seed must be a whole number from 0 to 4294967295, got '-1'/);
        expect(await page.locator('#lm-status').textContent()).toMatch(/Seed must be/);
      }, TIMEOUT_MS);
    });

    test('a model folder that is not there: a message that says what to do', async () => {
      const { page } = await openDemoPage(site.context);
      await page.goto(site.url + 'lm.html?model=/fixtures/no-such-model/');
      await waitForState(page, 'error');
      const message = await page.locator('#lm-error').textContent();
      expect(message).toMatch(/There is no model at \/fixtures\/no-such-model\/ \(fetch \/fixtures\/no-such-model\/: HTTP 404/);
      expect(message).toMatch(/\?model=\/fixtures\/gpt2-bytes-tiny\//);
      await page.close();
    }, TIMEOUT_MS);

    describe.runIf(existsSync(join(SHIPPED, 'model.safetensors')))('on the shipped shakespeare-gpt', () => {
      let page: Page;
      let errors: string[];

      beforeAll(async () => {
        ({ page, errors } = await openDemoPage(site.context));
        await page.goto(site.url + 'lm.html');
        await waitForState(page, 'ready');
      }, TIMEOUT_MS);

      afterAll(async () => {
        await page?.close();
      });

      test('streams a continuation with Node\'s ids and shows its attention (the README\'s screenshot)', async () => {
        const options = { maxNewTokens: 60, temperature: 0.8, topK: 20, seed: 1 };
        const done = await generateOnPage(page, { 'lm-max': '60', 'lm-temperature': '0.8', 'lm-topk': '20', 'lm-seed': '1' });
        expect(done.state, done.error).toBe('done');
        const shipped = await LanguageModel.load(gpu, SHIPPED);
        try {
          expect(done.last!.ids).toEqual(await nodeIds(shipped, 'ROMEO:\nBut soft, what light', options));
        } finally {
          shipped.destroy();
        }
        console.log(`shakespeare-gpt in Chromium: ${JSON.stringify(done.last!.text)}`);
        await page.selectOption('#lm-layer', '2');
        await page.hover(`#lm-output .tok[data-index="${done.last!.mapTokens - 1}"]`);
        await page.screenshot({ path: join(SHOTS, 'lm.png'), fullPage: true });
        expect(errors).toEqual([]);
      }, TIMEOUT_MS);
    });
  });
}
