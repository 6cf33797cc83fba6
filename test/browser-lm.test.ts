/**
 * The language-model path in headless Chromium (WebGPU on SwiftShader when there is no GPU):
 * checkpoints are fetched over HTTP into the page and loaded with `LanguageModel.fromBuffers`,
 * and must give the same tokens and logits as the fixtures the Node tests check. The page shows
 * a results table, saved to test/artifacts/browser-lm.png.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import { artifactPath, browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';
import { dataPath, hasData } from './util/data.ts';

const TEST_TIMEOUT_MS = 600_000; // SwiftShader compiles each pipeline slowly
const SCREENSHOT = artifactPath('browser-lm.png');
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
/** Greedy tokens from BOS checked in the browser: all of llama2.c's published 256 (about 2 s on SwiftShader). */
const STORIES_TOKENS = 256;

interface Golden {
  logits: { ids: number[]; logits: number[][] }[];
  greedy: { prompt: number[]; new_tokens: number; ids: number[] }[];
}

interface Loaded {
  vocabSize: number;
  numLayers: number;
}

const { skip, missing } = browserAvailability();

function maxAbsError(got: number[], want: number[][]): number {
  const flat = want.flat();
  expect(got.length).toBe(flat.length);
  let err = 0;
  for (let i = 0; i < flat.length; i++) err = Math.max(err, Math.abs(got[i]! - flat[i]!));
  return err;
}

if (skip) {
  console.log(skip);
  describe.skip(`language models in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('language models in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('language models in headless Chromium (WebGPU) match the fixtures', () => {
    let browser: BrowserPage;

    beforeAll(async () => {
      browser = await openBrowserPage({
        entry: 'test/browser/lm.page.ts',
        title: 'Tessera language models in Chromium',
        routes: { '/stories260K/': dataPath('stories260K'), '/models/': `${FIXTURES}models` },
      });
      const info = await browser.call<{ adapter: Gpu['report']['adapter']; features: string[] }>('init');
      console.log(`browser adapter: ${JSON.stringify(info.adapter)}; features: ${info.features.join(', ')}`);
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await browser?.call('destroy').catch(() => {});
      await browser?.close();
    });

    /** Run a check and show its verdict in the page's table, pass or fail. */
    async function checked(check: string, ms: number, detail: string, assert: () => void): Promise<void> {
      let pass = true;
      try {
        assert();
      } catch (err) {
        pass = false;
        throw err;
      } finally {
        await browser.call('record', check, pass, ms, detail);
      }
    }

    describe.skipIf(!hasData('stories260K/stories260K.bin', 'stories260K/tok512.bin'))('stories260K (llama2.c)', () => {
      const fixture = JSON.parse(readFileSync(`${FIXTURES}stories260K-greedy-ids.json`, 'utf8')) as { ids: number[] };
      const published = readFileSync(`${FIXTURES}stories260K-greedy.txt`, 'utf8').replace(/\n$/, '');

      test(`greedy decoding from BOS reproduces llama2.c's first ${STORIES_TOKENS} tokens and text`, async () => {
        const loaded = await browser.call<Loaded>('loadLlama2c', 'stories260K', '/stories260K/stories260K.bin', '/stories260K/tok512.bin');
        expect(loaded).toEqual({ vocabSize: 512, numLayers: 5 });
        const { ids, text, ms } = await browser.call<{ ids: number[]; text: string; ms: number }>('greedy', 'stories260K', '', STORIES_TOKENS);
        console.log(`stories260K: ${STORIES_TOKENS} greedy tokens in Chromium in ${(ms / 1000).toFixed(1)} s (pipeline compilation included)`);
        await checked(`stories260K greedy ${STORIES_TOKENS} tokens`, ms, JSON.stringify(text.slice(0, 60)) + '...', () => {
          expect(ids).toEqual(fixture.ids.slice(0, STORIES_TOKENS));
          expect(text.length).toBeGreaterThan(STORIES_TOKENS); // a few characters per token, not an empty string
          expect(text).toBe(STORIES_TOKENS === fixture.ids.length ? published : published.slice(0, text.length));
        });
      }, TEST_TIMEOUT_MS);
    });

    for (const name of ['gpt2-tiny', 'llama-tiny']) {
      describe(name, () => {
        const golden = JSON.parse(readFileSync(`${FIXTURES}models/${name}/golden.json`, 'utf8')) as Golden;

        beforeAll(async () => {
          await browser.call<Loaded>('loadHuggingFace', name, `/models/${name}/`);
        }, TEST_TIMEOUT_MS);

        for (const incremental of [false, true]) {
          const path = incremental ? 'decode-path logits (one token at a time through the KV cache)' : 'prefill logits';
          test(`${path}, T = 7, match PyTorch (float64) within 1e-4`, async () => {
            const { ids, logits: want } = golden.logits.find((l) => l.ids.length === 7)!;
            const { logits, ms } = await browser.call<{ logits: number[]; ms: number }>('logits', name, ids, incremental);
            const err = maxAbsError(logits, want);
            await checked(`${name} ${incremental ? 'decode' : 'prefill'} logits T = 7`, ms, `max |error| ${err.toExponential(2)}`, () => {
              expect(err).toBeLessThanOrEqual(1e-4);
            });
          }, TEST_TIMEOUT_MS);
        }

        test('a greedy continuation is identical', async () => {
          const { prompt, new_tokens, ids: want } = golden.greedy.find((g) => g.prompt.length > 1) ?? golden.greedy[0]!;
          const { ids, ms } = await browser.call<{ ids: number[]; ms: number }>('greedy', name, prompt, new_tokens);
          await checked(`${name} greedy ${new_tokens} tokens after ${prompt.length}`, ms, ids.join(' '), () => {
            expect(ids).toEqual(want);
          });
        }, TEST_TIMEOUT_MS);
      });
    }

    describe("gpt2-tiny-genconfig: generation_config.json fetched with the model, as HF's generate applies it", () => {
      interface Case { name: string; prompt: number[]; ids: number[]; ended_by: string }
      const cases = (JSON.parse(readFileSync(`${FIXTURES}models/gpt2-tiny-genconfig/golden.json`, 'utf8')) as { cases: Case[] }).cases;

      beforeAll(async () => {
        await browser.call<Loaded>('loadHuggingFace', 'gpt2-tiny-genconfig', '/models/gpt2-tiny-genconfig/', true);
      }, TEST_TIMEOUT_MS);

      // 'file': the two-token bad word makes the host choose each token; 'only the one-token bad
      // word': the ban and the min-length EOS ban are GPU masks, greedy on the GPU.
      for (const [name, options] of [['file', {}], ['only the one-token bad word', { badWordsIds: [[62]] }]] as const) {
        test(`${name}: HF's ids`, async () => {
          const c = cases.find((x) => x.name === name)!;
          const { ids, ms } = await browser.call<{ ids: number[]; ms: number }>('generate', 'gpt2-tiny-genconfig', c.prompt, options);
          await checked(`gpt2-tiny-genconfig '${name}'`, ms, ids.join(' '), () => {
            expect(ids).toEqual(c.ended_by === 'eos' ? c.ids.slice(0, -1) : c.ids);
          });
        }, TEST_TIMEOUT_MS);
      }
    });

    test('no console errors in the page; screenshot saved', async () => {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await browser.page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(browser.consoleErrors, 'console errors in the page').toEqual([]);
    });
  });
}
