// Builds Tessera with esbuild:
//   dist/node/index.js, dist/node/cli.js  — ESM for Node (the `webgpu` package stays external)
//   dist/browser/tessera.js               — one ESM bundle for the browser (no Node built-ins)
// WGSL files are bundled as text (`loader: { '.wgsl': 'text' }`).
// and with TypeScript (tsconfig.build.json, incremental):
//   dist/types/**/*.d.ts                  — the declarations of src/index.ts and what it reaches
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import ts from 'typescript';

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

emitDeclarations('tsconfig.build.json');

/**
 * Writes the project's declarations, and fails on any TypeScript error in what they cover. The
 * sources import each other as './x.ts' (allowImportingTsExtensions), and tsc keeps those
 * specifiers in .d.ts files even with rewriteRelativeImportExtensions; TypeScript 5 reads them,
 * but other tools and older compilers do not, so relative '.ts' specifiers become '.js', as if the
 * sources had imported the JavaScript (each resolves to the .d.ts beside it).
 */
function emitDeclarations(configPath) {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) };
  const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, host);
  const program = ts.createIncrementalProgram({
    rootNames: config.fileNames,
    options: config.options,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(config),
  });
  // Checked before emitting, so the buildinfo written by emit() records the check (the next build
  // re-checks only what changed).
  const diagnostics = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  const writeFile = (name, text, bom) => ts.sys.writeFile(name, name.endsWith('.d.ts') ? jsSpecifiers(text) : text, bom);
  diagnostics.push(...program.emit(undefined, writeFile).diagnostics);
  if (diagnostics.length > 0) fail(diagnostics);
}

/** './x.ts' → './x.js' in a declaration file's import/export specifiers and import('...') types. */
function jsSpecifiers(text) {
  return text.replace(/(\bfrom\s*|\bimport\s*\(\s*)(['"])(\.\.?\/[^'"\n]*?)\.ts\2/g, '$1$2$3.js$2');
}

function fail(diagnostics) {
  const formatHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => '\n' };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost));
  console.error(`build.mjs: ${diagnostics.length} TypeScript error(s) in the declaration build (${'tsconfig.build.json'})`);
  process.exit(1);
}
