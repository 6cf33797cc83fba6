/**
 * Helpers for the demo page tests (test/demo-*.test.ts): start the demo server the way a user
 * does (`node demo/serve.mjs`, PORT=0), open headless Chromium with WebGPU, and open pages that
 * record console errors. The same steps as test/demo.test.ts, shared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './browser.ts';

export interface DemoSite {
  url: string;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Start `node demo/serve.mjs` on a free port; resolves with its printed URL. */
export function startDemoServer(): Promise<{ url: string; child: ChildProcess }> {
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

/** The demo server and a headless Chromium (its own profile) to look at it. */
export async function openDemoSite(viewport = { width: 1360, height: 1000 }): Promise<DemoSite> {
  const server = await startDemoServer();
  const profileDir = mkdtempSync(join(tmpdir(), 'tessera-demo-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS, viewport });
    return {
      url: server.url,
      context,
      async close() {
        await context.close();
        server.child.kill('SIGTERM');
        rmSync(profileDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    server.child.kill('SIGTERM');
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
}

/** A fresh page that records console errors and uncaught exceptions. */
export async function openDemoPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.stack ?? e.message}`));
  return { page, errors };
}
