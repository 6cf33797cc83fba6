// `tessera classify`, run as users run it (the built dist/node/cli.js in a child process), against
// the PyTorch goldens of tools/reference/vit_reference.py.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const model = join(root, 'test/fixtures/models/vit-tiny');
const images = join(root, 'test/fixtures/vit-images');

interface Golden {
  images: { file: string; logits: number[]; index: number }[];
}
const golden = JSON.parse(readFileSync(join(model, 'golden.json'), 'utf8')) as Golden;
const labels = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).id2label as Record<string, string>;
const pngs = golden.images.filter((i) => i.file.endsWith('.png'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tessera(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let tmp: string;
beforeAll(() => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'tessera-classify-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Line {
  file: string;
  index: number;
  label: string;
  score: number;
  top: { index: number; label: string; score: number }[];
  logits: number[];
}

function checkAgainstGolden(lines: Line[], files: readonly string[]): void {
  expect(lines.map((l) => l.file)).toEqual(files);
  for (const line of lines) {
    const want = golden.images.find((i) => line.file.endsWith(`/${i.file}`))!;
    expect(line.index, line.file).toBe(want.index);
    expect(line.label).toBe(labels[String(want.index)]);
    expect(line.logits).toHaveLength(want.logits.length);
    const err = line.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - want.logits[i]!)), 0);
    expect(err, line.file).toBeLessThanOrEqual(1e-4);
  }
}

describe('tessera classify', () => {
  test('--json labels the golden PNGs like PyTorch: one line per image, logits within 1e-4', async () => {
    const files = pngs.map((i) => join(images, i.file));
    const r = await tessera('classify', '--model', model, '--json', '--top-k', '2', '--batch', '3', ...files);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`classify \\[#+\\] ${pngs.length}/${pngs.length}`)); // the progress bar
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    checkAgainstGolden(lines, files);
    for (const l of lines) {
      expect(l.top).toHaveLength(2);
      expect(l.top[0]).toEqual({ index: l.index, label: l.label, score: l.score });
    }
  });

  test('a folder is every PNG/JPEG in it, sorted; text mode lists the top k', async () => {
    const r = await tessera('classify', '--model', model, images, '--top-k', '3');
    expect(r.code, r.stderr).toBe(0);
    const blocks = r.stdout.trimEnd().split(/\n(?=\S)/);
    expect(blocks).toHaveLength(golden.images.length);
    const first = golden.images.slice().sort((a, b) => (a.file < b.file ? -1 : 1))[0]!;
    const lines = blocks[0]!.split('\n');
    expect(lines[0]).toBe(join(images, first.file));
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(new RegExp(`^ +\\d+\\.\\d\\d%  ${labels[String(first.index)]} \\(${first.index}\\)$`));
  });

  test('--input list.jsonl: paths relative to the list file, results in its order', async () => {
    const list = join(tmp, 'list.jsonl');
    const chosen = [pngs[2]!, pngs[0]!, pngs[2]!];
    writeFileSync(list, chosen.map((i) => JSON.stringify({ file: join(relative(tmp, images), i.file) })).join('\n') + '\n\n');
    const r = await tessera('classify', '--model', model, '--input', list, '--json');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    checkAgainstGolden(lines, chosen.map((i) => join(tmp, relative(tmp, images), i.file)));
  });

  test('errors name the problem and exit non-zero', async () => {
    let r = await tessera('classify', '--model', join(tmp, 'nowhere'), join(images, 'rgb-24x24.png'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`option '--model': no such file or folder '${join(tmp, 'nowhere')}'`);
    r = await tessera('classify', '--model', model);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('classify needs images, a folder or');
    r = await tessera('classify', '--model', model, join(tmp, 'missing.png'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no such file or folder '${join(tmp, 'missing.png')}'`);
    const list = join(tmp, 'bad.jsonl');
    writeFileSync(list, `{"file": "a.png"}\n{"path": "b.png"}\n`);
    r = await tessera('classify', '--model', model, '--input', list);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${list} line 2: expected {"file": "path"}`);
    const notImage = join(tmp, 'notes.png');
    writeFileSync(notImage, 'hello');
    r = await tessera('classify', '--model', model, notImage);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`ImageError: ${notImage}: not a PNG or JPEG file`);
    r = await tessera('classify', '--model', join(root, 'test/fixtures/models/gpt2-tiny'), join(images, 'rgb-24x24.png'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`model_type "gpt2" is not 'vit'`);
  });
});
