/**
 * Marian translation in headless Chromium (WebGPU on SwiftShader when there is no GPU): the
 * marian-tiny fixture is fetched over HTTP into the page, loaded with `MarianModel.fromBuffers`,
 * and must give PyTorch's logits (padded batch) and its greedy and beam-search ids; then
 * marian-tiny-genconfig, whose generation_config.json the page fetches too, must give HF
 * generate()'s ids with its defaults (4 beams, max_length 64, pad banned, forced EOS) and greedily,
 * for 10 padded sources. The page shows a results table, saved to test/artifacts/browser-marian.png.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { artifactPath, browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';

const TEST_TIMEOUT_MS = 600_000; // SwiftShader compiles each pipeline slowly
const SCREENSHOT = artifactPath('browser-marian.png');
const FIXTURES = new URL('./fixtures/models/', import.meta.url).pathname;

interface Golden {
  logits: { sources: number[][]; decoder: number[][]; logits: number[][][] }[];
  greedy: { sources: number[][]; max_new_tokens: number; ids: number[][] }[];
  beam: { sources: number[][]; num_beams: number; max_new_tokens: number; length_penalty: number; early_stopping: boolean | 'never'; ids: number[][] }[];
}

const { skip, missing } = browserAvailability();

if (skip) {
  console.log(skip);
  describe.skip(`Marian in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('Marian in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('Marian in headless Chromium (WebGPU) matches the PyTorch fixtures', () => {
    const golden = JSON.parse(readFileSync(`${FIXTURES}marian-tiny/golden.json`, 'utf8')) as Golden;
    let browser: BrowserPage;

    beforeAll(async () => {
      browser = await openBrowserPage({ entry: 'test/browser/marian.page.ts', title: 'Tessera Marian in Chromium', routes: { '/models/': FIXTURES } });
      const info = await browser.call<{ adapter: object; decoderLayers: number }>('load', '/models/marian-tiny/', readdirSync(`${FIXTURES}marian-tiny`));
      console.log(`browser adapter: ${JSON.stringify(info.adapter)}`);
      expect(info.decoderLayers).toBe(3);
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await browser?.call('destroy').catch(() => {});
      await browser?.close();
    });

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

    test('logits of a padded batch of 4 sources match within 1e-4', async () => {
      const { sources, decoder, logits: want } = golden.logits[1]!;
      const { logits, ms } = await browser.call<{ logits: number[][]; ms: number }>('logits', sources, decoder);
      let err = 0;
      logits.forEach((rows, b) => want[b]!.flat().forEach((w, i) => (err = Math.max(err, Math.abs(rows[i]! - w)))));
      await checked('logits, 4 padded sources', ms, `max |error| ${err.toExponential(2)}`, () => expect(err).toBeLessThanOrEqual(1e-4));
    }, TEST_TIMEOUT_MS);

    test('greedy search over a batch gives the reference ids', async () => {
      const { sources, max_new_tokens, ids: want } = golden.greedy[1]!;
      const { ids, ms } = await browser.call<{ ids: number[][]; ms: number }>('generate', sources, { numBeams: 1, maxNewTokens: max_new_tokens });
      await checked('greedy, 4 sources', ms, ids.map((i) => i.join(' ')).join(' | '), () => expect(ids).toEqual(want));
    }, TEST_TIMEOUT_MS);

    test('beam search over a batch gives the reference ids', async () => {
      for (const c of [golden.beam[1]!, golden.beam[2]!]) {
        const { ids, ms } = await browser.call<{ ids: number[][]; ms: number }>('generate', c.sources, {
          numBeams: c.num_beams, maxNewTokens: c.max_new_tokens, lengthPenalty: c.length_penalty, earlyStopping: c.early_stopping,
        });
        await checked(`${c.num_beams} beams, lp ${c.length_penalty}, early ${c.early_stopping}`, ms, ids.map((i) => i.join(' ')).join(' | '), () => expect(ids).toEqual(c.ids));
      }
    }, TEST_TIMEOUT_MS);

    test('marian-tiny-genconfig: the generation_config.json defaults and greedy search give HF generate()\'s ids for 10 padded sources', async () => {
      const gc = JSON.parse(readFileSync(`${FIXTURES}marian-tiny-genconfig/golden.json`, 'utf8')) as { sources: number[][]; cases: { name: string; ids: number[][]; scores?: number[] }[] };
      const info = await browser.call<{ generationSource: string; numBeams: number }>('load', '/models/marian-tiny-genconfig/', readdirSync(`${FIXTURES}marian-tiny-genconfig`));
      expect(info).toMatchObject({ generationSource: 'generation_config.json', numBeams: 4 });
      for (const [name, options] of [['defaults', {}], ['greedy', { numBeams: 1 }]] as const) {
        const want = gc.cases.find((c) => c.name.startsWith(name))!;
        const { ids, scores, ms } = await browser.call<{ ids: number[][]; scores: (number | undefined)[]; ms: number }>('generate', gc.sources, options);
        await checked(`genconfig: ${want.name}`, ms, ids.map((i) => i.length).join(' '), () => {
          expect(ids).toEqual(want.ids);
          want.scores?.forEach((s, b) => expect(Math.abs(scores[b]! - s)).toBeLessThanOrEqual(1e-4));
        });
      }
    }, TEST_TIMEOUT_MS);

    test('no console errors in the page; screenshot saved', async () => {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await browser.page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(browser.consoleErrors, 'console errors in the page').toEqual([]);
    });
  });
}
