/**
 * The image-token generator in headless Chromium (WebGPU on SwiftShader when there is no GPU): the
 * fixture checkpoints are fetched into the page and must give PyTorch's prefix logits, greedy grid
 * and up-sampled pictures, painted into a canvas as they grow (test/artifacts/browser-imagegen.png).
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { artifactPath, browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';
import { imagegenFixture, imagegenGolden } from './util/imagegen-golden.ts';

const TEST_TIMEOUT_MS = 600_000; // SwiftShader compiles each pipeline slowly
const SCREENSHOT = artifactPath('browser-imagegen.png');
const { skip, missing } = browserAvailability();

/** RGBA bytes → RGB bytes as base64 (the golden's encoding); every pixel must be opaque. */
function rgbBase64(rgba: number[]): string {
  const rgb = Buffer.alloc((rgba.length / 4) * 3);
  for (let i = 0; i < rgba.length / 4; i++) {
    expect(rgba[4 * i + 3]).toBe(255);
    rgb[3 * i] = rgba[4 * i]!;
    rgb[3 * i + 1] = rgba[4 * i + 1]!;
    rgb[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return rgb.toString('base64');
}

if (skip) {
  console.log(skip);
  describe.skip(`image-token generator in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('image-token generator in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('image-token generator in headless Chromium (WebGPU) matches PyTorch', () => {
    let browser: BrowserPage;

    beforeAll(async () => {
      browser = await openBrowserPage({
        entry: 'test/browser/imagegen.page.ts',
        title: 'Tessera image-token generator in Chromium',
        routes: { '/models/': imagegenFixture('') },
      });
      console.log(`browser adapter: ${await browser.call<string>('init')}`);
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await browser?.call('destroy').catch(() => {});
      await browser?.close();
    });

    const models = [
      ['imagegen-tiny', 'vocab+merges', 'bilinear'],
      ['imagegen-palette-llama', 'tokenizer.json', 'nearest'],
    ] as const;
    for (const [name, tokenizer, mode] of models) {
      describe(name, () => {
        const golden = imagegenGolden(name);

        beforeAll(async () => {
          await browser.call('load', name, `/models/${name}/`, tokenizer);
        }, TEST_TIMEOUT_MS);

        test('prefix logits within 1e-4', async () => {
          const got = await browser.call<number[]>('logits', name, golden.logits.ids);
          const want = golden.logits.logits.flat();
          expect(got.length).toBe(want.length);
          let err = 0;
          for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
          expect(err).toBeLessThanOrEqual(1e-4);
        }, TEST_TIMEOUT_MS);

        test(`the greedy grid and its ×4 ${mode} picture are identical, painted as they grow`, async () => {
          const r = await browser.call<{ tokens: number[]; paints: number; rgba: number[]; width: number; height: number; ms: number }>('imagine', name, golden.prompt, 4, mode);
          console.log(`${name}: ${r.tokens.length} tokens and ${r.paints} partial paints in ${r.ms} ms`);
          expect(r.tokens).toEqual(golden.tokens);
          expect(r.paints).toBe(golden.tokens.length);
          const want = mode === 'bilinear' ? golden.bilinear4 : golden.nearest4;
          expect({ width: r.width, height: r.height, rgb: rgbBase64(r.rgba) }).toEqual(want);
        }, TEST_TIMEOUT_MS);
      });
    }

    test('no console errors in the page; screenshot saved', async () => {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await browser.page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(browser.consoleErrors, 'console errors in the page').toEqual([]);
    });
  });
}
