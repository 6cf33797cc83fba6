// The npm package as a user gets it: `npm pack` of the built repository, the tarball's file list,
// then an install of the tarball into a fresh folder and a strict TypeScript program (nodenext
// resolution) that uses the public API through `import ... from 'tessera'`.
// No network: the package's dependencies are `file:` links to the repository's own node_modules, so
// `npm install --offline` takes only the tarball itself from disk; the compiler is the repository's
// TypeScript. The consumer has no @types/node and checks libraries too (no skipLibCheck): the
// declarations must stand on their own and on @webgpu/types, which index.d.ts references.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

let tmp: string;
let pack: PackResult;
let paths: string[];
let consumer: string;

/** `tsc -p` on a consumer tsconfig; returns the exit status and the diagnostics. */
function typecheck(project: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { cwd: consumer, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

beforeAll(() => {
  // dist/ must be current (the build also writes the declarations); then pack without `prepare`,
  // which would only build it again.
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'tessera-package-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  [pack] = JSON.parse(out) as PackResult[];
  paths = pack.files.map((f) => f.path);

  consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  const link = (name: string) => `file:${join(root, 'node_modules', name)}`;
  const dependencies: Record<string, string> = { tessera: `file:${join(tmp, pack.filename)}` };
  for (const name of Object.keys(manifest.dependencies)) dependencies[name] = link(name);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }, null, 2));
  execFileSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: consumer, stdio: 'pipe' });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('ships the built JavaScript, its declarations, the shipped models, README and LICENSE', () => {
    for (const path of ['package.json', 'README.md', 'LICENSE', 'dist/node/index.js', 'dist/node/cli.js', 'dist/browser/tessera.js', 'dist/types/index.d.ts']) {
      expect(paths).toContain(path);
    }
    expect(paths.filter((p) => p.startsWith('dist/types/') && p.endsWith('.d.ts')).length).toBeGreaterThan(50);
    for (const model of ['shakespeare-gpt', 'fashion-vit', 'fashion-imagegen', 'multi30k-marian']) {
      expect(paths).toContain(`models/${model}/config.json`);
      expect(paths).toContain(`models/${model}/model.safetensors`);
    }
  });

  test('ships nothing else: no sources, tests, tools, benches, demos, docs, shaders or build state', () => {
    const top = ['package.json', 'README.md', 'LICENSE'];
    const unexpected = paths.filter(
      (p) => !top.includes(p) && !/^dist\/(node|browser)\/[^/]+\.js(\.map)?$/.test(p) && !/^dist\/types\/.+\.d\.ts$/.test(p) && !p.startsWith('models/'),
    );
    expect(unexpected).toEqual([]);
    expect(paths.some((p) => /^(src|test|tools|bench|demo|docs|shaders)\//.test(p))).toBe(false);
  });

  test('its declarations import each other as .js and name no .wgsl module', () => {
    const types = join(consumer, 'node_modules/tessera/dist/types');
    const files = (readdirSync(types, { recursive: true }) as string[]).filter((f) => f.endsWith('.d.ts'));
    const bad = files.filter((f) => {
      const text = readFileSync(join(types, f), 'utf8');
      // Module specifiers only: doc comments may name a snippet such as "lib/sincos.wgsl".
      return /(from\s*|import\s*\(\s*)['"]\.\.?\/[^'"]*\.ts['"]/.test(text) || /(from\s*|import\s*\(\s*|^import\s+)['"][^'"]*\.wgsl['"]/m.test(text);
    });
    expect(bad).toEqual([]);
  });
});

describe('installed into a fresh folder', () => {
  const tsconfig = (file: string) =>
    JSON.stringify({
      compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [] },
      files: [file],
    });

  test('a strict nodenext TypeScript program that uses the public API type-checks', () => {
    writeFileSync(
      join(consumer, 'good.ts'),
      `import {
  compile, createDevice, GraphBuilder, LanguageModel, ops, Session,
  type CompiledGraph, type GeneratedToken, type GenerateOptions, type Gpu, type HostArray, type Tensor, type Value,
} from 'tessera';

export async function main(): Promise<string> {
  const gpu: Gpu = await createDevice({ powerPreference: 'low-power' });

  // Eager ops on device tensors.
  const a: Tensor = gpu.upload(new Float32Array(6), [2, 3]);
  const b: Tensor = gpu.upload(new Float32Array(12), [3, 4]);
  const c: Tensor = ops.matmul(gpu, a, b, { activation: 'gelu_tanh' });
  const product: HostArray = await c.download();
  const shape: readonly number[] = c.shape;

  // A graph, compiled and run by a session.
  const g = new GraphBuilder();
  const x: Value = g.input('x', [2, 3]);
  const y: Value = g.gelu(g.matmul(x, g.constant('w', b)));
  g.output('y', y);
  const compiled: CompiledGraph = compile(g, { fuse: true });
  const session: Session = await Session.create(gpu, compiled);
  const outputs: Record<string, HostArray> = await session.run({ x: new Float32Array(6) });
  const yHost: HostArray | undefined = outputs['y'];

  // A language model, streamed token by token.
  const lm: LanguageModel = await LanguageModel.load(gpu, 'models/shakespeare-gpt', { maxContext: 64 });
  const options: GenerateOptions = { maxNewTokens: 8, temperature: 0.8, topK: 40, seed: 1 };
  let text = '';
  for await (const token of lm.generate('ROMEO:', options)) {
    const t: GeneratedToken = token;
    text += t.text;
  }
  const logits: Float32Array = await lm.logits(lm.encodePrompt('ROMEO:'));

  lm.destroy();
  session.destroy();
  for (const t of [a, b, c]) t.destroy();
  return \`\${product.length} \${shape.join('x')} \${yHost?.length} \${logits.length} \${text}\`;
}
`,
    );
    writeFileSync(join(consumer, 'tsconfig.good.json'), tsconfig('good.ts'));
    const r = typecheck('tsconfig.good.json');
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  test('and a type error in such a program is reported (the types are real, not any)', () => {
    writeFileSync(
      join(consumer, 'bad.ts'),
      `import { createDevice, ops } from 'tessera';

const gpu = await createDevice();
const a = gpu.upload(new Float32Array(4), [2, 2]);
export const c = ops.matmul(gpu, a, a, { activation: 'swish' });
`,
    );
    writeFileSync(join(consumer, 'tsconfig.bad.json'), tsconfig('bad.ts'));
    const r = typecheck('tsconfig.bad.json');
    expect(r.status).not.toBe(0);
    const errors = r.output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^bad\.ts\(5,\d+\): error TS2322: Type '"swish"' is not assignable to type 'Activation/);
  });

  test("Node loads the package's entry point", () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const t = await import('tessera');
console.log([typeof t.createDevice, typeof t.ops.matmul, typeof t.GraphBuilder, typeof t.compile, typeof t.Session, typeof t.LanguageModel].join(' '));`,
      ],
      { cwd: consumer, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('function function function function function function');
  });

  test("the installed `tessera` command generates from the package's own shipped model, as the repository's does", () => {
    const args = ['generate', 'ROMEO:', '--max-new-tokens', '24'];
    const installed = execFileSync(join(consumer, 'node_modules/.bin/tessera'), args, { cwd: consumer, encoding: 'utf8' });
    const repository = execFileSync(process.execPath, [join(root, 'dist/node/cli.js'), ...args], { cwd: root, encoding: 'utf8' });
    expect(installed.length).toBeGreaterThan('ROMEO:'.length);
    expect(installed).toBe(repository);
  });
});
