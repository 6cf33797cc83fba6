// Builds Tessera with esbuild:
//   dist/node/index.js, dist/node/cli.js  — ESM for Node (the `webgpu` package stays external)
//   dist/browser/tessera.js               — one ESM bundle for the browser (no Node built-ins)
// WGSL files are bundled as text (`loader: { '.wgsl': 'text' }`).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', target: 'es2022' };

const nodeEntries = ['src/index.ts'];
if (existsSync('src/cli.ts')) nodeEntries.push('src/cli.ts');

await Promise.all([
  build({
    ...common,
    entryPoints: nodeEntries,
    outdir: 'dist/node',
    platform: 'node',
    packages: 'external',
    banner: { js: '' },
  }),
  build({
    ...common,
    entryPoints: { tessera: 'src/index.ts' },
    outdir: 'dist/browser',
    platform: 'browser',
    // createDevice() only imports 'webgpu' when there is no navigator.gpu, i.e. never in a browser.
    external: ['webgpu'],
  }),
]);
