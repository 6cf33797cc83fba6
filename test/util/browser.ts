/**
 * Run Tessera in headless Chromium from a Node test.
 *
 * `openBrowserPage({ entry })` bundles a TypeScript entry module for the browser with esbuild,
 * serves it with a one-line HTML page from a local HTTP server (127.0.0.1, a free port), starts
 * Debian's Chromium with WebGPU on (SwiftShader, Chromium's CPU Vulkan, when there is no GPU)
 * through playwright-core, and waits until the entry module has loaded. The test then calls the
 * module's exports inside the page with `call(exportName, ...args)`; arguments and results cross
 * the boundary as JSON-like values (plain arrays, not typed arrays).
 *
 * Every console error and uncaught exception of the page is recorded in `consoleErrors`.
 * playwright-core never downloads a browser: only the Chromium at `CHROMIUM_PATH` is used.
 */
import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with WebGPU; without a GPU it picks SwiftShader on its own, no extra flag needed. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_INSTALL_HELP =
  `Chromium was not found at ${CHROMIUM_PATH}. The browser tests drive Debian's Chromium: install it with ` +
  '`apt-get install -y chromium` (or point TESSERA_CHROMIUM at a Chromium binary), or set TESSERA_SKIP_BROWSER=1 to skip them.';

/** Why the browser tests cannot run here: `skip` when the user asked to skip, `missing` when Chromium is absent. */
export function browserAvailability(): { skip: string | null; missing: string | null } {
  if (process.env.TESSERA_SKIP_BROWSER === '1') return { skip: 'TESSERA_SKIP_BROWSER=1: browser tests skipped', missing: null };
  if (!existsSync(CHROMIUM_PATH)) return { skip: null, missing: CHROMIUM_INSTALL_HELP };
  return { skip: null, missing: null };
}

/** Bundle `entry` (and everything it imports) into `outFile` as one browser ES module. */
export async function bundleForBrowser(entry: string, outFile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    loader: { '.wgsl': 'text', '.json': 'json' },
    // createDevice() imports 'webgpu' only when there is no navigator.gpu, i.e. never in a browser.
    external: ['webgpu'],
    logLevel: 'warning',
  });
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

/**
 * Serve local folders over HTTP on 127.0.0.1 at a free port. `routes` maps a URL prefix
 * ('/' or '/weights/') to a folder; the longest matching prefix wins. Only GET and HEAD.
 */
export async function serveFolders(routes: Record<string, string>): Promise<{ origin: string; server: Server; close(): Promise<void> }> {
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const prefix = prefixes.find((p) => path.startsWith(p));
    const root = prefix !== undefined ? resolve(routes[prefix]!) : null;
    const file = root ? resolve(root, '.' + sep + path.slice(prefix!.length)) : null;
    let size = -1;
    try {
      if (file && (file === root || file.startsWith(root + sep))) {
        const stat = statSync(file);
        if (stat.isFile()) size = stat.size;
      }
    } catch {
      // not found: answered below
    }
    if (!file || size < 0) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('serveFolders: the server has no TCP address');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    server,
    close: () => new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

export interface BrowserPage {
  page: Page;
  context: BrowserContext;
  /** The page's URL, e.g. http://127.0.0.1:41234/index.html */
  url: string;
  /** Console errors and uncaught exceptions, in order. */
  consoleErrors: string[];
  /** Call an export of the entry module inside the page and return its (JSON-like) result. */
  call<T = unknown>(exportName: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

export interface OpenBrowserPageOptions {
  /** The TypeScript module to bundle; its exports become callable with `call`. */
  entry: string;
  title?: string;
  /** More folders to serve, by URL prefix (e.g. { '/weights/': '/path/to/cache' }). */
  routes?: Record<string, string>;
  /** Forward every console message to Node's console (for debugging). */
  echoConsole?: boolean;
}

const PAGE_HTML = (title: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">
<style>body{font:13px system-ui,sans-serif;margin:12px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.pass{color:#070}.fail{color:#b00;font-weight:bold}.skip{color:#888}</style></head>
<body><h3>${title}</h3><div id="root"></div>
<script type="module">
import * as entry from './entry.js';
window.__entry = entry;
window.__entryReady = true;
</script></body></html>
`;

/** Bundle, serve and open `entry` in a fresh headless Chromium (fresh temporary profile each time). */
export async function openBrowserPage(options: OpenBrowserPageOptions): Promise<BrowserPage> {
  const { missing } = browserAvailability();
  if (missing) throw new Error(missing);
  const title = options.title ?? 'Tessera';
  const siteDir = mkdtempSync(join(tmpdir(), 'tessera-site-'));
  const profileDir = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const cleanup = () => {
    rmSync(siteDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  };
  let server: Awaited<ReturnType<typeof serveFolders>> | null = null;
  let context: BrowserContext | null = null;
  try {
    await bundleForBrowser(options.entry, join(siteDir, 'entry.js'));
    writeFileSync(join(siteDir, 'index.html'), PAGE_HTML(title));
    server = await serveFolders({ ...options.routes, '/': siteDir });
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1000, height: 700 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (options.echoConsole) console.log(`[browser ${message.type()}] ${message.text()}`);
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.stack ?? error.message}`));
    const url = `${server.origin}/index.html`;
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { __entryReady?: boolean }).__entryReady === true, undefined, { timeout: 60_000 });
    const openedServer = server, openedContext = context;
    return {
      page,
      context,
      url,
      consoleErrors,
      call: <T>(exportName: string, ...args: unknown[]) =>
        page.evaluate(
          async ({ exportName, args }) => {
            const entry = (window as unknown as { __entry: Record<string, unknown> }).__entry;
            const fn = entry[exportName];
            if (typeof fn !== 'function') throw new Error(`the page's entry module has no exported function '${exportName}'`);
            return (await (fn as (...a: unknown[]) => unknown)(...args)) as T;
          },
          { exportName, args },
        ) as Promise<T>,
      close: async () => {
        await openedContext.close();
        await openedServer.close();
        cleanup();
      },
    };
  } catch (err) {
    await context?.close().catch(() => {});
    await server?.close();
    cleanup();
    throw err;
  }
}

/** Where tests put screenshots and other outputs worth looking at (git-ignored). */
export function artifactPath(name: string): string {
  return join(dirname(new URL(import.meta.url).pathname), '..', 'artifacts', name);
}
