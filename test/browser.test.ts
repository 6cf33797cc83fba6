/**
 * Every kernel case again, in headless Chromium (WebGPU on SwiftShader when there is no GPU):
 * each must pass its CPU reference there too, and agree with the same case run here in Node
 * (Dawn on lavapipe) within the case's tolerance. The page shows a results table, saved to
 * test/artifacts/browser-kernels.png.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Gpu } from '../src/device/gpu.ts';
import type { BrowserCaseResult } from './browser/kernels.page.ts';
import { judge } from './kernels/case.ts';
import { allCases } from './kernels/index.ts';
import { artifactPath, browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';
import { testDevice } from './util/gpu.ts';

const CASE_TIMEOUT_MS = 600_000; // SwiftShader is slow; the biggest cases take a while
const SCREENSHOT = artifactPath('browser-kernels.png');
const { skip, missing } = browserAvailability();

if (skip) {
  console.log(skip);
  describe.skip(`kernels in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('kernels in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('kernels in headless Chromium (WebGPU) agree with the reference and with Node', () => {
    let browser: BrowserPage;
    let gpu: Gpu;
    let browserCases: string[] = [];
    const timings: { name: string; browserMs: number; nodeMs: number }[] = [];

    beforeAll(async () => {
      gpu = await testDevice();
      browser = await openBrowserPage({ entry: 'test/browser/kernels.page.ts', title: 'Tessera kernel cases in Chromium' });
      const info = await browser.call<{ adapter: Gpu['report']['adapter']; features: string[]; cases: string[] }>('init');
      browserCases = info.cases;
      console.log(`browser adapter: ${JSON.stringify(info.adapter)}; features: ${info.features.join(', ')}`);
    }, CASE_TIMEOUT_MS);

    afterAll(async () => {
      const slowest = [...timings].sort((a, b) => b.browserMs - a.browserMs).slice(0, 5);
      const total = (key: 'browserMs' | 'nodeMs') => (timings.reduce((sum, t) => sum + t[key], 0) / 1000).toFixed(1);
      console.log(
        `${timings.length} cases: ${total('browserMs')} s in Chromium, ${total('nodeMs')} s in Node; slowest in Chromium: ` +
          slowest.map((t) => `${t.name} ${(t.browserMs / 1000).toFixed(1)} s`).join(', '),
      );
      await browser?.close();
      gpu?.destroy();
    });

    test('the page opened a WebGPU device and bundles the same cases as Node', () => {
      expect(browser.consoleErrors, 'console errors while opening the page').toEqual([]);
      expect(browserCases).toEqual(allCases.map((c) => c.name));
    });

    for (const c of allCases) {
      test(c.name, async (context) => {
        const errorsBefore = browser.consoleErrors.length;
        const nodeStart = performance.now();
        const [inBrowser, [inNode, nodeMs]] = await Promise.all([
          browser.call<BrowserCaseResult>('runCase', c.name),
          c.run(gpu).then((r) => [r, performance.now() - nodeStart] as const),
        ]);
        timings.push({ name: c.name, browserMs: inBrowser.ms, nodeMs });
        const newErrors = browser.consoleErrors.slice(errorsBefore);
        expect(newErrors, `${c.name}: console errors in the page`).toEqual([]);
        if (inBrowser.status === 'skip') return context.skip(inBrowser.message);
        expect(inBrowser.status, `${c.name} threw in the browser: ${inBrowser.message}`).not.toBe('error');
        const got = inBrowser.got!;
        const verdict = judge(c, got, inNode.want);
        expect(verdict.ok, `browser vs reference: ${verdict.message}`).toBe(true);
        // Both outputs are already within tolerance of the reference; this catches the browser and Node
        // taking different code paths (features, limits) that drift apart, and any output mix-up.
        const agreement = judge({ ...c, allowAllZero: true }, got, inNode.got);
        expect(agreement.ok, `browser vs Node: ${agreement.message}`).toBe(true);
      }, CASE_TIMEOUT_MS);
    }

    test('no console errors in the page; screenshot saved', async () => {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await browser.page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(browser.consoleErrors, 'console errors in the page').toEqual([]);
    });
  });
}
