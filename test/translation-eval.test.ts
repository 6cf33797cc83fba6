// `tessera eval --model multi30k-marian`, run as users run it (the built dist/node/cli.js in a child
// process): Tessera's BLEU report on the first test sentences, greedy ids equal to PyTorch's, and
// clear errors for folders it cannot evaluate. The BLEU arithmetic itself is test/bleu.test.ts's.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { readGreedyGolden, readGzipLines, TRANSLATION_TEST_FILES } from '../src/cli/translation-eval.ts';
import { DATA_DIR, dataPath, hasData } from './util/data.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const marianDir = join(root, 'models/multi30k-marian');
const tinyDir = join(root, 'test/fixtures/models/marian-tiny');

function tessera(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { cwd, env: { ...process.env, TESSERA_DATA: DATA_DIR }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tessera-translation-eval-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("test-set lines are read as Python's text mode reads them", () => {
  const path = join(tmp, 'lines.gz');
  writeFileSync(path, gzipSync(Buffer.from('Ein Mann.\r\nZwei Hunde\rÄrger\n\nlast', 'utf8')));
  expect(readGzipLines(path)).toEqual(['Ein Mann.', 'Zwei Hunde', 'Ärger', '', 'last']);
  writeFileSync(path, gzipSync(Buffer.from('one\ntwo\n', 'utf8')));
  expect(readGzipLines(path)).toEqual(['one', 'two']);
  writeFileSync(path, gzipSync(Buffer.alloc(0)));
  expect(readGzipLines(path)).toEqual([]);
  writeFileSync(path, 'not gzip');
  expect(() => readGzipLines(path)).toThrow(`eval: cannot read '${path}' as gzipped UTF-8 text`);
  writeFileSync(path, gzipSync(Buffer.from([0x41, 0xff, 0x0a])));
  expect(() => readGzipLines(path)).toThrow(UsageError);
});

test('greedy_test100.jsonl must translate the same test sentences, in order', () => {
  const folder = join(tmp, 'golden');
  mkdirSync(folder, { recursive: true });
  expect(readGreedyGolden(folder, ['A dog.'])).toEqual([]); // no file: nothing to compare
  const row = (source: string) => JSON.stringify({ source, ids: [5, 0], text: 'Ein Hund.' });
  writeFileSync(join(folder, 'greedy_test100.jsonl'), `${row('A dog.')}\n${row('A cat.')}\n`);
  expect(readGreedyGolden(folder, ['A dog.', 'A cat.']).map((g) => g.ids)).toEqual([[5, 0], [5, 0]]);
  expect(() => readGreedyGolden(folder, ['A dog.', 'A bird.'])).toThrow(UsageError);
  expect(() => readGreedyGolden(folder, ['A dog.', 'A bird.'])).toThrow(`greedy_test100.jsonl line 2 translates "A cat.", test sentence 2 is "A bird."`);
  writeFileSync(join(folder, 'greedy_test100.jsonl'), `${row('A dog.')}\n{"source": "A cat.", "ids": [5,\n`);
  expect(() => readGreedyGolden(folder, ['A dog.', 'A cat.'])).toThrow('greedy_test100.jsonl line 2: not valid JSON');
});

describe.skipIf(!hasData(...TRANSLATION_TEST_FILES))('the CLI', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  });

  test.skipIf(!existsSync(marianDir))('`eval --model multi30k-marian --limit 8 --json`: BLEU of the beams, greedy ids identical to PyTorch', async () => {
    const r = await tessera(tmp, 'eval', '--model', 'multi30k-marian', '--limit', '8', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/translate \(\d+ beams\) \[#+\] 8\/8/);
    expect(r.stderr).toMatch(/translate \(greedy\) \[#+\] 8\/8/);
    const report = (JSON.parse(r.stdout) as Record<string, any>)['multi30k-marian'];
    const config = JSON.parse(readFileSync(join(marianDir, 'config.json'), 'utf8')) as { num_beams: number };
    const m = report.metrics;
    expect(m.sentences).toBe(8);
    expect(m.num_beams).toBe(config.num_beams);
    expect(m.bleu).toBeGreaterThan(0);
    expect(m.bleu).toBeLessThanOrEqual(100);
    expect(m.bleu_detail).toMatch(/^[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ \(BP [\d.]+, hypothesis \d+ \/ reference \d+ tokens\)$/);
    expect(m.seconds).toBeGreaterThan(0);
    expect(m.sentences_per_second).toBeCloseTo(8 / m.seconds, 9);
    expect([m.greedy_sentences, m.greedy_identical]).toEqual([8, 8]);
    // a slice of the test set: only the greedy comparison is checked (BLEU's target and agreement are for all 1,000)
    expect(report.checks).toEqual([{ name: "greedy ids identical to PyTorch's on 8/8 sentences", ok: true }]);
    const metricsPath = join(marianDir, 'metrics.json');
    if (existsSync(metricsPath)) {
      const recorded = JSON.parse(readFileSync(metricsPath, 'utf8')) as { bleu_beam: number; bleu_greedy: number };
      expect(report.pytorch).toEqual({ bleu: recorded.bleu_beam, bleu_greedy: recorded.bleu_greedy });
    }
    expect(report.summary).toMatch(/^BLEU [\d.]+ \(\d+ beams\) on 8 of 1000 test sentences, greedy identical to PyTorch on 8\/8; /);
  }, 120_000);

  test('a folder it cannot evaluate is named with the reason', async () => {
    // a marian config without weights
    const bare = join(tmp, 'bare-marian');
    mkdirSync(bare, { recursive: true });
    writeFileSync(join(bare, 'config.json'), JSON.stringify({ model_type: 'marian' }));
    let r = await tessera(tmp, 'eval', '--model', bare, '--limit', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`'${bare}' has no model.safetensors`);
    // weights but no tokenizer: BLEU needs text
    const idsOnly = join(tmp, 'ids-only-marian');
    mkdirSync(idsOnly, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(tinyDir, f), join(idsOnly, f));
    r = await tessera(tmp, 'eval', '--model', idsOnly, '--limit', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`eval: '${idsOnly}' has no tokenizer (source.spm, target.spm, vocab.json); BLEU needs text`);
    // a model type eval does not know: the message lists what it knows
    writeFileSync(join(bare, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    r = await tessera(tmp, 'eval', '--model', bare);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has model_type "bert"; eval knows gpt2/llama (held-out loss), vit (Fashion-MNIST accuracy), image generators (class agreement) and marian (Multi30k BLEU)');
    // the test set must be there
    r = await tessera(tmp, 'eval', '--model', 'multi30k-marian', '--data', join(tmp, 'nothing'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`multi30k-marian needs ${join(tmp, 'nothing', 'multi30k/test_2016_flickr.en.gz')}`);
  }, 60_000);
});

test.skipIf(!hasData(...TRANSLATION_TEST_FILES))('the shared test set has 1,000 line-aligned pairs', () => {
  const [en, de] = TRANSLATION_TEST_FILES.map((f) => readGzipLines(dataPath(f)));
  expect([en!.length, de!.length]).toEqual([1000, 1000]);
});
