// `npm run demo`: build the browser bundle and the demo pages, then serve them on localhost.
//
//   dist/browser/tessera.js   the library (build.mjs), served at /lib/tessera.js
//   dist/demo/<page>.js       one bundle per demo/pages/<page>.ts, served at /build/<page>.js
//   demo/                     the HTML pages and style.css, served at /
//   models/                   model files for the model demos (when present), served at /models/
//   test/fixtures/models/     the tiny test models, served at /fixtures/ (pages take ?model=/fixtures/<name>/)
// A model folder's own URL (/models/<name>/, /fixtures/<name>/) answers {"files": [...]}, its file names,
// so a page fetches only the files a model has.
//
// Page scripts import Tessera from src/index.ts, which the build rewrites to /lib/tessera.js, so
// every page shares one copy of the library and type-checks against its source. Everything is
// local: no CDN, no network. PORT picks the port (default 8080; 0 picks a free one); HOST the
// interface (default 127.0.0.1). The test (test/demo.test.ts) runs this file as a user would.
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LIBRARY_URL = '/lib/tessera.js';

/** URL prefix → folder; the longest matching prefix wins. */
export const ROUTES = {
  '/lib/': join(ROOT, 'dist/browser'),
  '/build/': join(ROOT, 'dist/demo'),
  '/models/': join(ROOT, 'models'),
  '/fixtures/': join(ROOT, 'test/fixtures/models'),
  '/': join(ROOT, 'demo'),
};

const PREFIXES = Object.keys(ROUTES).sort((a, b) => b.length - a.length);

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

/** Imports of src/index.ts become imports of the served library bundle; deeper imports of src/ are refused. */
const libraryPlugin = {
  name: 'tessera-library',
  setup(b) {
    const index = join(ROOT, 'src', 'index.ts');
    b.onResolve({ filter: /\/src(\/index\.ts)?$|\/src\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (target === index || target === join(ROOT, 'src')) return { path: LIBRARY_URL, external: true };
      if (target.startsWith(join(ROOT, 'src') + sep)) {
        return { errors: [{ text: `${args.importer}: import Tessera from src/index.ts, not ${args.path} (pages share one copy of the library)` }] };
      }
      return undefined;
    });
  },
};

/** Build the library bundle (build.mjs) and one bundle per page script. Throws on any build error. */
export async function buildDemo() {
  const library = spawnSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (library.status !== 0) throw new Error(`node build.mjs failed with status ${library.status}`);
  const pagesDir = join(ROOT, 'demo', 'pages');
  const entryPoints = readdirSync(pagesDir).filter((f) => f.endsWith('.ts')).map((f) => join(pagesDir, f));
  await build({
    entryPoints,
    outdir: join(ROOT, 'dist', 'demo'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    loader: { '.wgsl': 'text' },
    plugins: [libraryPlugin],
    logLevel: 'warning',
  });
}

/** The file a request path maps to, or null (unknown prefix, outside its folder, not a file). */
function fileFor(urlPath) {
  const path = urlPath.endsWith('/') ? urlPath + 'index.html' : urlPath;
  const prefix = PREFIXES.find((p) => path.startsWith(p));
  if (prefix === undefined) return null;
  const root = ROUTES[prefix];
  const file = resolve(root, '.' + sep + path.slice(prefix.length));
  if (!file.startsWith(root + sep)) return null;
  try {
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

/** Model folders a page may list, so that it fetches only the files a model has (a 404 is a console error in a browser). */
const LISTED_PREFIXES = ['/models/', '/fixtures/'];

/**
 * The plain files of a model folder, for a request of the folder itself (`/models/<name>/`), or
 * null (not a listed route, outside it, not a folder).
 */
function folderListing(urlPath) {
  const prefix = LISTED_PREFIXES.find((p) => urlPath.startsWith(p));
  if (prefix === undefined || !urlPath.endsWith('/')) return null;
  const root = ROUTES[prefix];
  const folder = resolve(root, '.' + sep + urlPath.slice(prefix.length));
  if (folder !== root && !folder.startsWith(root + sep)) return null;
  try {
    return readdirSync(folder, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  } catch {
    return null;
  }
}

/** Serve the demo (already built) over HTTP. Resolves once listening, with the URL and a close(). */
export function startDemoServer({ port = 8080, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request path');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end(`method ${req.method} not allowed`);
      return;
    }
    const file = fileFor(path);
    const listing = file ? null : folderListing(path);
    if (listing) {
      const body = JSON.stringify({ files: listing });
      res.writeHead(200, { 'content-type': CONTENT_TYPES['.json'], 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const address = server.address();
      const shownHost = host.includes(':') ? `[${host}]` : host;
      done({
        url: `http://${shownHost}:${address.port}/`,
        close: () => new Promise((closed) => {
          server.closeAllConnections();
          server.close(() => closed());
        }),
      });
    });
  });
}

async function main() {
  const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer from 0 to 65535, got '${process.env.PORT}'`);
    process.exit(2);
  }
  const host = process.env.HOST ?? '127.0.0.1';
  await buildDemo();
  let served;
  try {
    served = await startDemoServer({ port, host });
  } catch (err) {
    const why = err.code === 'EADDRINUSE' ? `port ${port} is in use; set PORT to another port (PORT=0 picks a free one)` : err.message;
    console.error(`demo server: ${why}`);
    process.exit(2);
  }
  console.log(`Tessera demos: ${served.url}`);
  console.log('Open it in a browser with WebGPU (Chrome/Edge 113+). Ctrl-C stops the server.');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
