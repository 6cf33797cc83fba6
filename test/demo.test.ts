/**
 * The demo site in headless Chromium (WebGPU on SwiftShader when there is no GPU), started the
 * way a user starts it: `node demo/serve.mjs` (what `npm run demo` runs) with PORT=0, which
 * builds the pages and prints the URL. Each page must load without console errors; the kernel
 * lab must run a small matmul through all five steps, and its outputs must match a float64
 * product computed here from the inputs the page exposes. Screenshots go to test/artifacts/demo/.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`); TESSERA_SKIP_BROWSER=1 skips this file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { artifactPath, browserAvailability, CHROMIUM_FLAGS, CHROMIUM_PATH } from './util/browser.ts';

const TIMEOUT_MS = 120_000;
const SHOTS = artifactPath('demo');
const { skip, missing } = browserAvailability();

/** The lab's `window.tessera.lab`, as far as this test reads it. */
interface LabState {
  state: 'idle' | 'running' | 'done' | 'error';
  error?: string;
  runs: number;
  last?: {
    kernel: string;
    timing: string;
    rows: { node: string; kernel: string; ms: number; rate: number; skipped?: string; check: { ok: boolean; checked: number; total: number; maxAbsError: number } | null }[];
    data?: { a: number[]; b: number[]; outputs: Record<string, number[]> };
  };
}

/** Start `node demo/serve.mjs` on a free port; resolves with its printed URL. */
function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['demo/serve.mjs'], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the demo server printed no URL within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Tessera demos: (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        done({ url: match[1]!, child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the demo server exited with status ${code}:\n${output}`));
    });
  });
}

/** A fresh page that records console errors and uncaught exceptions. */
async function openPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.stack ?? e.message}`));
  return { page, errors };
}

async function runLab(page: Page, sizes: Record<string, number>): Promise<LabState> {
  const runsBefore = await page.evaluate(() => (window as unknown as { tessera: { lab: LabState } }).tessera.lab.runs);
  for (const [field, value] of Object.entries(sizes)) await page.fill(`#field-${field}`, String(value));
  await page.click('#run');
  await page.waitForFunction((n) => {
    const lab = (window as unknown as { tessera: { lab: LabState } }).tessera.lab;
    return lab.runs > n && lab.state !== 'running';
  }, runsBefore, { timeout: TIMEOUT_MS });
  return page.evaluate(() => (window as unknown as { tessera: { lab: LabState } }).tessera.lab);
}

if (skip) {
  console.log(skip);
  describe.skip(`demo site in headless Chromium (${skip})`, () => {
    test('skipped', () => {});
  });
} else if (missing) {
  test('demo site in headless Chromium: Chromium is installed', () => {
    throw new Error(missing);
  });
} else {
  describe('demo site in headless Chromium', () => {
    let server: { url: string; child: ChildProcess };
    let context: BrowserContext;
    let profileDir: string;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      server = await startServer();
      profileDir = mkdtempSync(join(tmpdir(), 'tessera-demo-chromium-'));
      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_FLAGS,
        viewport: { width: 1360, height: 1000 },
      });
    }, TIMEOUT_MS);

    afterAll(async () => {
      await context?.close();
      server?.child.kill('SIGTERM');
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    });

    test('the server serves the pages, the library bundle and the page scripts, and refuses paths outside them', async () => {
      for (const path of ['', 'lab.html', 'style.css', 'lib/tessera.js', 'build/home.js', 'build/lab.js']) {
        const response = await fetch(server.url + path);
        expect(response.status, path).toBe(200);
      }
      expect((await fetch(server.url + 'style.css')).headers.get('content-type')).toMatch(/text\/css/);
      expect((await fetch(server.url + 'no-such-page.html')).status).toBe(404);
      expect((await fetch(server.url + '%2e%2e/package.json')).status).toBe(404);
    });

    test('landing page: names the adapter, lists the demos, no console errors', async () => {
      const { page, errors } = await openPage(context);
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as { tessera?: { home?: { ready: boolean } } }).tessera?.home?.ready === true, undefined, { timeout: TIMEOUT_MS });
      const home = await page.evaluate(() => (window as unknown as { tessera: { home: { error?: string; features: string[] } } }).tessera.home);
      expect(home.error, 'the landing page could not open WebGPU').toBeUndefined();
      expect(await page.locator('#adapter .facts').textContent()).toMatch(/vendor/);
      expect(await page.locator('#adapter table.limits').textContent()).toMatch(/maxStorageBufferBindingSize/);
      expect(await page.locator('#device-pill').getAttribute('class')).toContain('ok');
      expect(await page.locator('#demo-list a[href="/lab.html"]').count()).toBe(1);
      await page.screenshot({ path: join(SHOTS, 'landing.png'), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    }, TIMEOUT_MS);

    test('without WebGPU: the landing page and the lab show a clear message', async () => {
      const { page, errors } = await openPage(context);
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as { tessera?: { home?: { ready: boolean } } }).tessera?.home?.ready === true, undefined, { timeout: TIMEOUT_MS });
      const message = await page.locator('#webgpu-missing').textContent();
      expect(message).toMatch(/WebGPU is not available/);
      expect(message).toMatch(/navigator\.gpu is missing/);
      expect(await page.locator('#device-pill').textContent()).toBe('WebGPU: unavailable');
      await page.screenshot({ path: join(SHOTS, 'no-webgpu.png') });
      await page.goto(server.url + 'lab.html');
      await page.waitForSelector('#webgpu-missing', { timeout: TIMEOUT_MS });
      expect(await page.evaluate(() => (window as unknown as { tessera: { lab: LabState } }).tessera.lab.state)).toBe('error');
      expect(errors).toEqual([]);
      await page.close();
    }, TIMEOUT_MS);

    test('kernel lab: a small matmul through all five steps matches float64 products; attention and layernorm check out', async () => {
      const { page, errors } = await openPage(context);
      await page.goto(server.url + 'lab.html');
      await page.waitForSelector('#run', { timeout: TIMEOUT_MS });
      expect(await page.locator('#source pre.wgsl').textContent()).toMatch(/Teaching matmul, step 1 of 5/);

      // M, N, K: primes and non-multiples of every tile, with N and K multiples of 4 so the vec4 step runs.
      const [M, N, K] = [37, 52, 68];
      const lab = await runLab(page, { M, N, K });
      expect(lab.state, lab.error).toBe('done');
      const result = lab.last!;
      expect(result.rows.map((r) => r.node)).toEqual(['step1_naive', 'step2_tiled', 'step3_register_blocked', 'step4_vec4', 'step5_production']);
      const { a, b, outputs } = result.data!;
      expect(a.length).toBe(M * K);
      for (const row of result.rows) {
        expect(row.skipped, row.node).toBeUndefined();
        expect(row.check!.ok, `${row.node}: the page's own CPU check`).toBe(true);
        expect(row.check!.checked).toBe(M * N);
        expect(row.ms).toBeGreaterThan(0);
        expect(Number.isFinite(row.rate) && row.rate > 0, `${row.node} rate ${row.rate}`).toBe(true);
        // The page's output against a float64 product computed here.
        const got = outputs[row.node]!;
        expect(got.length).toBe(M * N);
        let worst = 0;
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let want = 0;
            for (let k = 0; k < K; k++) want += a[m * K + k]! * b[k * N + n]!;
            worst = Math.max(worst, Math.abs(got[m * N + n]! - want) - 1e-5 * Math.abs(want));
          }
        }
        expect(worst, `${row.node}: max error against float64`).toBeLessThan(1e-5 + 1e-6 * K);
      }
      expect(await page.locator('#results-table tbody tr').count()).toBe(5);
      expect(await page.locator('#lab-status').textContent()).toMatch(/agrees with the float64 CPU reference/);

      // A shape the vec4 step does not take: it says why and the others still run.
      const unaligned = await runLab(page, { M: 5, N: 7, K: 3 });
      expect(unaligned.state, unaligned.error).toBe('done');
      expect(unaligned.last!.rows.find((r) => r.node === 'step4_vec4')!.skipped).toMatch(/multiples of 4/);
      expect(unaligned.last!.rows.filter((r) => !r.skipped).every((r) => r.check!.ok)).toBe(true);

      // Bad input: a clear message, no run.
      await page.fill('#field-K', '0');
      await page.evaluate(() => (document.getElementById('lab-form') as HTMLFormElement).noValidate = true);
      const rejected = await runLab(page, {});
      expect(rejected.state).toBe('error');
      expect(rejected.error).toMatch(/K \(shared\) must be a whole number from 1 to 4096, got '0'/);

      // The picture in docs/demos.md and docs/README.md: a 128³ run.
      const shown = await runLab(page, { M: 128, N: 128, K: 128 });
      expect(shown.state, shown.error).toBe('done');
      expect(shown.last!.rows.every((r) => r.check!.ok)).toBe(true);
      console.log(`kernel lab, 128³ matmul in Chromium (${shown.last!.timing} timing): ` + shown.last!.rows.map((r) => `${r.node} ${r.rate.toFixed(2)} GFLOP/s`).join(', '));
      await page.locator('#results-table tbody tr').nth(2).click();
      expect(await page.locator('.source-path').textContent()).toMatch(/matmul_3_register_blocked\.wgsl/);
      await page.screenshot({ path: join(SHOTS, 'lab-matmul.png') });

      await page.click('#tab-attention');
      const attention = await runLab(page, { T: 67, H: 3, D: 20 });
      expect(attention.state, attention.error).toBe('done');
      expect(attention.last!.rows[0]!.check!.ok).toBe(true);
      expect(await page.locator('.source-path').textContent()).toMatch(/shaders\/attention\.wgsl/);
      await page.screenshot({ path: join(SHOTS, 'lab-attention.png') });

      await page.click('#tab-layernorm');
      const layernorm = await runLab(page, { rows: 33, D: 97 });
      expect(layernorm.state, layernorm.error).toBe('done');
      expect(layernorm.last!.rows[0]!.check!).toMatchObject({ ok: true, checked: 33 * 97 });
      await page.screenshot({ path: join(SHOTS, 'lab-layernorm.png') });

      expect(errors).toEqual([]);
      await page.close();
    }, TIMEOUT_MS);
  });
}
