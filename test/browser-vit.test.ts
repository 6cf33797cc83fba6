/**
 * ViT in headless Chromium (WebGPU on SwiftShader when there is no GPU): the fixture checkpoints
 * are fetched with `VisionTransformer.fromUrl` and must give PyTorch's logits (within 1e-4) for
 * normalised tensors, for PNG files decoded by the browser, for RGBA arrays and for an
 * ImageBitmap. The page's results table is saved to test/artifacts/browser-vit.png.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadImage } from '../src/models/vit/image.ts';
import { artifactPath, browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';

const TEST_TIMEOUT_MS = 600_000; // SwiftShader compiles each pipeline slowly
const SCREENSHOT = artifactPath('browser-vit.png');
const FIXTURES = join(import.meta.dirname, 'fixtures');

interface Golden {
  tensors: { shape: number[]; pixels: number[]; logits: number[][] };
  images: { file: string; logits: number[]; index: number }[];
}
type Result = { index: number; label: string; logits: number[] };

const { skip, missing } = browserAvailability();

function maxAbsError(got: readonly number[], want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  return want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w)), 0);
}

if (skip) {
  console.log(skip);
  describe.skip(`ViT in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('ViT in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('ViT in headless Chromium (WebGPU) matches PyTorch', () => {
    let browser: BrowserPage;

    beforeAll(async () => {
      browser = await openBrowserPage({
        entry: 'test/browser/vit.page.ts',
        title: 'Tessera ViT in Chromium',
        routes: { '/models/': join(FIXTURES, 'models'), '/images/': join(FIXTURES, 'vit-images') },
      });
      await browser.call('init');
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

    for (const name of ['vit-tiny', 'vit-tiny-grey']) {
      describe(name, () => {
        const golden = JSON.parse(readFileSync(join(FIXTURES, 'models', name, 'golden.json'), 'utf8')) as Golden;
        // Opaque PNGs decode exactly in the browser; the RGBA one goes in as pixels (a canvas premultiplies alpha).
        const opaque = golden.images.filter((i) => i.file.endsWith('.png') && !i.file.startsWith('rgba'));
        const rgba = golden.images.find((i) => i.file.startsWith('rgba'))!;

        beforeAll(async () => {
          await browser.call('load', name, `/models/${name}/`);
        }, TEST_TIMEOUT_MS);

        test('logits of normalised tensors within 1e-4', async () => {
          const { logits, ms } = await browser.call<{ logits: number[]; ms: number }>('logits', name, golden.tensors.pixels);
          const err = maxAbsError(logits, golden.tensors.logits.flat());
          await checked(`${name} tensor logits`, ms, `max |error| ${err.toExponential(2)}`, () => expect(err).toBeLessThanOrEqual(1e-4));
        }, TEST_TIMEOUT_MS);

        test('PNG files decoded by the browser, resized like PIL: logits within 1e-4 and the same labels', async () => {
          const { results, ms } = await browser.call<{ results: Result[]; ms: number }>('classifyUrls', name, opaque.map((i) => `/images/${i.file}`));
          const err = Math.max(...results.map((r, i) => maxAbsError(r.logits, opaque[i]!.logits)));
          await checked(`${name} ${opaque.length} PNG files`, ms, `max |error| ${err.toExponential(2)}; labels ${results.map((r) => r.label).join(', ')}`, () => {
            expect(err).toBeLessThanOrEqual(1e-4);
            expect(results.map((r) => r.index)).toEqual(opaque.map((i) => i.index));
          });
        }, TEST_TIMEOUT_MS);

        test('RGBA pixels (with alpha) and an ImageBitmap', async () => {
          const image = await loadImage(join(FIXTURES, 'vit-images', rgba.file));
          const pixels = await browser.call<{ results: Result[]; ms: number }>('classifyRgba', name, [{ width: image.width, height: image.height, data: Array.from(image.data) }]);
          const bitmap = await browser.call<{ results: Result[]; ms: number }>('classifyBitmap', name, `/images/${opaque[0]!.file}`);
          const errPixels = maxAbsError(pixels.results[0]!.logits, rgba.logits);
          const errBitmap = maxAbsError(bitmap.results[0]!.logits, opaque[0]!.logits);
          await checked(`${name} RGBA array + ImageBitmap`, pixels.ms + bitmap.ms, `max |error| ${errPixels.toExponential(2)}, ${errBitmap.toExponential(2)}`, () => {
            expect(errPixels).toBeLessThanOrEqual(1e-4);
            expect(errBitmap).toBeLessThanOrEqual(1e-4);
          });
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
