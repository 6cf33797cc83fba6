// `tessera imagine`, run as users run it (the built dist/node/cli.js in a child process): the PNG it
// writes must hold exactly PyTorch's greedy grid decoded and up-sampled the same way.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { imagegenGolden as golden } from './util/imagegen-golden.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const fixture = (name: string) => join(root, 'test/fixtures/models', name);

function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { cwd: root }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A PNG file's pixels as RGB bytes, base64 (the golden's encoding); every pixel must be opaque. */
function pngRgb(path: string): { width: number; height: number; rgb: string } {
  const png = PNG.sync.read(readFileSync(path));
  const rgb = Buffer.alloc(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    expect(png.data[4 * i + 3]).toBe(255);
    png.data.copy(rgb, 3 * i, 4 * i, 4 * i + 3);
  }
  return { width: png.width, height: png.height, rgb: rgb.toString('base64') };
}

let tmp: string;
beforeAll(() => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'tessera-imagine-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('tessera imagine', () => {
  test('writes the PNG of PyTorch\'s greedy grid, ×4 nearest (the default) and bilinear', async () => {
    const g = golden('imagegen-tiny');
    for (const [mode, want] of [['nearest', g.nearest4], ['bilinear', g.bilinear4]] as const) {
      const out = join(tmp, `fox-${mode}.png`);
      const args = ['imagine', '--model', fixture('imagegen-tiny'), g.prompt, '-o', out, '--json', ...(mode === 'bilinear' ? ['--upsample', 'bilinear'] : [])];
      const r = await tessera(...args);
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result).toMatchObject({ file: out, prompt: g.prompt, tokens: g.tokens, grid: [6, 5], width: 60, height: 72, seed: null });
      expect(pngRgb(out)).toEqual(want);
    }
  });

  test('a palette model at --scale 1 writes the detokenized pixels', async () => {
    const g = golden('imagegen-palette-llama');
    const out = join(tmp, 'palette.png');
    const r = await tessera('imagine', '--model', fixture('imagegen-palette-llama'), g.prompt, '--output', out, '--scale', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(pngRgb(out)).toEqual(g.pixels);
  });

  test('sampling with a seed is reproducible', async () => {
    const run = async (seed: string, name: string) => {
      const out = join(tmp, name);
      const r = await tessera('imagine', '--model', fixture('imagegen-tiny'), 'two cats', '-o', out, '--temperature', '1', '--top-k', '5', '--seed', seed, '--json');
      expect(r.code, r.stderr).toBe(0);
      return { tokens: JSON.parse(r.stdout).tokens as number[], png: readFileSync(out) };
    };
    const [a, b, c] = [await run('11', 'a.png'), await run('11', 'b.png'), await run('12', 'c.png')];
    expect(b.png.equals(a.png)).toBe(true);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  test('--guidance sets the classifier-free guidance scale (1 is none)', async () => {
    const g = golden('imagegen-tiny');
    const run = async (...extra: string[]) => {
      const r = await tessera('imagine', '--model', fixture('imagegen-tiny'), g.prompt, '-o', join(tmp, 'guided.png'), '--json', ...extra);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { tokens: number[]; guidance: number };
    };
    expect(await run('--guidance', '1')).toMatchObject({ tokens: g.tokens, guidance: 1 });
    const guided = await run('--guidance', '3');
    expect(guided.guidance).toBe(3);
    expect(guided.tokens).not.toEqual(g.tokens);
  });

  test("sampling defaults come from the folder's generation_config.json; flags override them", async () => {
    const g = golden('imagegen-tiny');
    const dir = join(tmp, 'imagegen-sampling');
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(fixture('imagegen-tiny'))) copyFileSync(join(fixture('imagegen-tiny'), f), join(dir, f));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: true, temperature: 1, top_k: 5 }));
    const run = async (...extra: string[]) => {
      const r = await tessera('imagine', '--model', dir, g.prompt, '-o', join(tmp, 'sampled.png'), '--json', ...extra);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { tokens: number[]; seed: number | null };
    };
    const sampled = await run('--seed', '11');
    // the same as the sampling flags on the folder without the file
    const flags = await tessera('imagine', '--model', fixture('imagegen-tiny'), g.prompt, '-o', join(tmp, 'flags.png'), '--json', '--temperature', '1', '--top-k', '5', '--seed', '11');
    expect(JSON.parse(flags.stdout).tokens).toEqual(sampled.tokens);
    expect(sampled.tokens).not.toEqual(g.tokens);
    expect((await run()).seed).toEqual(expect.any(Number)); // sampling without --seed picks one and reports it
    expect(await run('--greedy')).toMatchObject({ tokens: g.tokens, seed: null });
    expect(await run('--temperature', '0')).toMatchObject({ tokens: g.tokens, seed: null });
  });

  test.each([
    [['--model', fixture('imagegen-tiny'), 'a', '-o', 'x.png', '--top-p', '2'], 2, /option '--top-p' needs a number in \(0, 1\], got 2/],
    [['--model', fixture('imagegen-tiny'), 'a', '-o', 'x.png', '--sample', '--greedy'], 2, /give '--sample' or '--greedy', not both/],
    [['--model', fixture('no-such-model'), 'a', '-o', 'x.png'], 2, /option '--model': no such file or folder '.*no-such-model'/],
    [['--model', fixture('imagegen-tiny'), 'a'], 2, /option '-o' \/ '--output' is required/],
    [['--model', fixture('imagegen-tiny'), '-o', 'x.png'], 2, /imagine needs a prompt/],
    [['--model', fixture('imagegen-tiny'), 'a', '-o', 'x.png', '--upsample', 'cubic'], 2, /'--upsample' must be nearest or bilinear, got 'cubic'/],
    [['--model', fixture('imagegen-tiny'), 'a', '-o', 'x.png', '--top-k', '17'], 2, /'--top-k' must be at most 16/],
    [['--model', fixture('imagegen-tiny'), 'a', '-o', 'x.png', '--guidance', '-1'], 2, /option '--guidance' needs a number >= 0, got -1/],
    [['--model', fixture('imagegen-tiny'), 'x'.repeat(40), '-o', 'x.png'], 2, /the prompt: .* need 72 tokens, more than the context of 64/],
    [['--model', fixture('gpt2-tiny'), 'a', '-o', 'x.png'], 1, /CheckpointError: config\.json has no 'imagegen' object/],
  ])('refuses %j (exit %i)', async (args, code, message) => {
    const r = await tessera('imagine', ...args.map((a) => (a === 'x.png' ? join(tmp, a) : a)));
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});
