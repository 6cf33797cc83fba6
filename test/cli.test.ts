// The `tessera` command line, run as users run it: the built dist/node/cli.js in a child process.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeNpy } from '../src/runtime/npy.ts';
import { dataPath, hasData } from './util/data.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const fixture = (name: string) => join(root, 'test/fixtures/models', name);

interface Golden {
  logits: { ids: number[]; logits: number[][] }[];
  greedy: { prompt: number[]; new_tokens: number; ids: number[] }[];
}
const golden = (name: string): Golden => JSON.parse(readFileSync(join(fixture(name), 'golden.json'), 'utf8'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tessera(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI and expects success, showing stderr when it fails. */
async function ok(...args: string[]): Promise<string> {
  const r = await tessera(...args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

let tmp: string;

beforeAll(() => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the built CLI keeps its shebang and is executable', () => {
  expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  expect(statSync(cli).mode & 0o111).not.toBe(0);
});

test('`npx tessera` runs the CLI from the repository (npm self-installs the root package into its npx cache)', () => {
  const out = execFileSync('npx', ['--yes', 'tessera', 'help'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(out).toContain('generate');
  expect(out).toContain('logits');
});

describe.each(['gpt2-tiny', 'llama-tiny'])('%s', (model) => {
  const g = golden(model);

  test('generate --json reproduces the golden greedy ids', async () => {
    for (const { prompt, new_tokens, ids } of g.greedy) {
      const out = await ok('generate', '--model', fixture(model), '--ids', prompt.join(','), '--temperature', '0', '--max-new-tokens', String(new_tokens), '--json');
      const result = JSON.parse(out);
      expect(result.ids).toEqual(ids);
      expect(result.text).toBe(''); // the fixtures have no tokenizer
    }
  });

  test('text mode without a tokenizer streams the new ids', async () => {
    const { prompt, ids } = g.greedy[0]!;
    const out = await ok('generate', '--model', fixture(model), '--ids', prompt.join(','), '--max-new-tokens', '6');
    expect(out).toBe(ids.slice(0, 6).join(' ') + '\n');
  });

  test('logits --out writes the golden logits as .npy', async () => {
    for (const { ids, logits } of g.logits) {
      const path = join(tmp, `${model}-${ids.length}.npy`);
      await ok('logits', '--model', fixture(model), '--ids', ids.join(','), '--out', path);
      const npy = decodeNpy(readFileSync(path));
      expect(npy.shape).toEqual([ids.length, logits[0]!.length]);
      let maxErr = 0;
      logits.flat().forEach((want, i) => (maxErr = Math.max(maxErr, Math.abs(npy.data[i]! - want))));
      expect(maxErr).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('batch mode', () => {
  const model = fixture('gpt2-tiny');
  const [first, second] = golden('gpt2-tiny').greedy as [Golden['greedy'][0], Golden['greedy'][0]];

  test('one result line per input line, in order, with per-line options', async () => {
    const input = join(tmp, 'prompts.jsonl');
    const output = join(tmp, 'out.jsonl');
    writeFileSync(
      input,
      [
        JSON.stringify({ ids: first.prompt }),
        '',
        JSON.stringify({ ids: second.prompt, max_new_tokens: 5 }),
        JSON.stringify({ ids: first.prompt, temperature: 1, top_k: 10, top_p: 0.9, seed: 7 }),
      ].join('\n') + '\n',
    );
    const r = await tessera('generate', '--model', model, '--input', input, '--output', output, '--temperature', '0', '--max-new-tokens', '20');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/generate \[#+\] 3\/3/); // the progress bar
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({ ids: first.ids, text: '' });
    expect(lines[1]).toEqual({ ids: second.ids.slice(0, 5), text: '' });
    // The sampled line matches the same settings given on the command line.
    const single = JSON.parse(await ok('generate', '--model', model, '--ids', first.prompt.join(','), '--temperature', '1', '--top-k', '10', '--top-p', '0.9', '--seed', '7', '--max-new-tokens', '20', '--json'));
    expect(lines[2].ids).toHaveLength(20);
    expect(lines[2]).toEqual(single);
  });

  test('a bad line is an error naming the file and line', async () => {
    const input = join(tmp, 'bad.jsonl');
    writeFileSync(input, `${JSON.stringify({ ids: [1] })}\n${JSON.stringify({ ids: [2], top_p: 3 })}\n`);
    const r = await tessera('generate', '--model', model, '--input', input);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${input} line 2: "top_p" needs a number in (0, 1], got 3`);
    writeFileSync(input, `${JSON.stringify({ ids: [1] })}\n{"ids": [1]\n`);
    expect((await tessera('generate', '--model', model, '--input', input)).stderr).toContain(`${input} line 2: not valid JSON`);
    writeFileSync(input, `${JSON.stringify({ text: 'hi' })}\n`);
    expect((await tessera('generate', '--model', model, '--input', input)).stderr).toContain(`${input} line 1: unknown key "text"`);
  });

  test('an unwritable --output is a usage error', async () => {
    const input = join(tmp, 'one.jsonl');
    writeFileSync(input, `${JSON.stringify({ ids: [1] })}\n`);
    const r = await tessera('generate', '--model', model, '--input', input, '--output', join(tmp, 'no/such/dir/out.jsonl'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--output': cannot write");
  });
});

describe('usage errors exit with code 2 and name the option', () => {
  const model = fixture('gpt2-tiny');
  test.each([
    ["'--temperature' needs a number, got 'hot'", ['generate', '--model', model, '--ids', '1', '--temperature', 'hot']],
    ["'--temperature' needs a number >= 0", ['generate', '--model', model, '--ids', '1', '--temperature', '-1']],
    ["'--top-p' needs a number in (0, 1]", ['generate', '--model', model, '--ids', '1', '--top-p', '2']],
    ["'--top-k' needs an integer >= 0", ['generate', '--model', model, '--ids', '1', '--top-k', '2.5']],
    ["'--max-new-tokens' needs an integer >= 1", ['generate', '--model', model, '--ids', '1', '--max-new-tokens', '0']],
    ["'--seed' needs an integer", ['generate', '--model', model, '--ids', '1', '--seed', '-3']],
    ["'--ids' needs comma-separated token ids", ['generate', '--model', model, '--ids', '1,x']],
    ["unknown option '--bogus'", ['generate', '--model', model, '--ids', '1', '--bogus']],
    ['give only one of', ['generate', '--model', model, '--ids', '1', 'text']],
    ["needs a prompt, '--ids' or '--input'", ['generate', '--model', model]],
    ['has no tokenizer', ['generate', '--model', model, 'hello']],
    ["'--model': no such file or folder", ['generate', '--model', join(root, 'no/such/model'), '--ids', '1']],
    ["'--output' needs '--input'", ['generate', '--model', model, '--ids', '1', '--output', 'x.jsonl']],
    ["'--input': cannot read", ['generate', '--model', model, '--input', join(root, 'no/such.jsonl')]],
    ['topK must be 0 (all tokens) or an integer in [1, 97], got 500', ['generate', '--model', model, '--ids', '1', '--temperature', '1', '--top-k', '500']],
    ["give '--sample' or '--greedy', not both", ['generate', '--model', model, '--ids', '1', '--sample', '--greedy']],
    ["'--greedy' does not sample: drop '--temperature 0.5'", ['generate', '--model', model, '--ids', '1', '--greedy', '--temperature', '0.5']],
    ["'--min-new-tokens' needs an integer >= 0", ['generate', '--model', model, '--ids', '1', '--min-new-tokens', '-1']],
    ["token id 97 at index 1 is not in the model's vocabulary [0, 97)", ['generate', '--model', model, '--ids', '1,97']],
    ["'--out' is required", ['logits', '--model', model, '--ids', '1']],
    ["token id 200 at index 0 is not in the model's vocabulary", ['logits', '--model', model, '--ids', '200', '--out', 'x.npy']],
    ["needs '--ids'", ['logits', '--model', model, '--out', 'x.npy']],
  ] as [string, string[]][])('%s', async (message, args) => {
    const r = await tessera(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe("the model's generation config (gpt2-tiny-genconfig: HF's greedy generate)", () => {
  interface Case { name: string; prompt: number[]; ids: number[]; ended_by: string }
  const cases = new Map((JSON.parse(readFileSync(join(fixture('gpt2-tiny-genconfig'), 'golden.json'), 'utf8')).cases as Case[]).map((c) => [c.name, c]));
  /** The new ids `generate --json` reports for HF's: without the EOS that ended them. */
  const want = (name: string) => {
    const c = cases.get(name)!;
    return c.ended_by === 'eos' ? c.ids.slice(0, -1) : c.ids;
  };
  const json = async (model: string, ...args: string[]) => JSON.parse(await ok('generate', '--model', model, ...args, '--json')).ids as number[];
  const file = cases.get('file')!, forced = cases.get('forced')!;
  /** A copy of the fixture whose generation_config.json is `edit` of it. */
  const variant = (name: string, edit: (g: Record<string, unknown>) => Record<string, unknown>) => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(fixture('gpt2-tiny-genconfig'), f), join(dir, f));
    const g = JSON.parse(readFileSync(join(fixture('gpt2-tiny-genconfig'), 'generation_config.json'), 'utf8'));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(edit(g)));
    return dir;
  };

  test('its defaults give the golden ids; flags override them', async () => {
    const model = fixture('gpt2-tiny-genconfig');
    expect(await json(model, '--ids', file.prompt.join(','))).toEqual(want('file'));
    expect(await json(model, '--ids', forced.prompt.join(','))).toEqual(want('forced'));
    expect(await json(model, '--ids', forced.prompt.join(','), '--max-new-tokens', '7')).toEqual(want('forced, max_new_tokens 7'));
    expect(await json(model, '--ids', file.prompt.join(','), '--min-new-tokens', '0')).toEqual(want('no min_new_tokens'));
  });

  test("a folder without one gets HF's max_length 20, counting the prompt", async () => {
    const { prompt, ids } = golden('gpt2-tiny').greedy[1]!;
    expect(prompt).toHaveLength(5);
    expect(await json(fixture('gpt2-tiny'), '--ids', prompt.join(','))).toEqual(ids.slice(0, 15));
  });

  test('do_sample in the file samples; --temperature 0 and --greedy decode greedily', async () => {
    const model = variant('sampling', (g) => ({ ...g, do_sample: true, temperature: 0.9, top_k: 20 }));
    const ids = ['--ids', file.prompt.join(',')];
    const sampled = await json(model, ...ids, '--seed', '3');
    expect(sampled).toEqual(await json(fixture('gpt2-tiny-genconfig'), ...ids, '--seed', '3', '--temperature', '0.9', '--top-k', '20'));
    expect(sampled).not.toEqual(want('file'));
    expect(await json(model, ...ids, '--temperature', '0')).toEqual(want('file'));
    expect(await json(model, ...ids, '--greedy', '--seed', '3')).toEqual(want('file'));
    expect(await json(fixture('gpt2-tiny-genconfig'), ...ids, '--sample', '--top-k', '20', '--temperature', '0.9', '--seed', '3')).toEqual(sampled);
  });

  test('keys Tessera does not implement are named in one warning; an id outside the vocabulary is an error', async () => {
    const warned = await tessera('generate', '--model', variant('warned', (g) => ({ ...g, repetition_penalty: 1.2, num_beams: 3 })), '--ids', file.prompt.join(','), '--json');
    expect(warned.code, warned.stderr).toBe(0);
    expect(JSON.parse(warned.stdout).ids).toEqual(want('file'));
    expect(warned.stderr).toContain("generation_config.json: 'repetition_penalty', 'num_beams' (3: there is no beam search;");
    const bad = await tessera('generate', '--model', variant('bad', (g) => ({ ...g, eos_token_id: [46, 97] })), '--ids', '1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("generation_config.json: 'eos_token_id' 97 is outside the vocabulary of 97");
  });

  test('--help says where the defaults come from', async () => {
    const help = await ok('generate', '--help');
    expect(help).toContain("Defaults come from the model's generation config");
    expect(help).toContain('--min-new-tokens');
    expect(help).not.toContain('(default 256)');
  });
});

describe.skipIf(!hasData('stories260K/stories260K.bin', 'stories260K/tok512.bin'))('stories260K', () => {
  test("greedy from BOS prints llama2.c's published sample exactly", async () => {
    // The fixture ends with one newline: the text the model generates, then the newline that text mode
    // always prints at the end (as llama2.c's run.c does). An empty prompt echoes nothing.
    const want = readFileSync(join(root, 'test/fixtures/stories260K-greedy.txt'), 'utf8');
    const out = await ok('generate', '--model', dataPath('stories260K'), '--temperature', '0', '--max-new-tokens', '256', '');
    expect(out).toBe(want);
  });

  test('text mode echoes a text prompt and streams the continuation', async () => {
    const args = ['generate', '--model', dataPath('stories260K'), '--max-new-tokens', '12', 'Lily saw a dog'];
    const json = JSON.parse(await ok(...args, '--json'));
    expect(json.ids).toHaveLength(12);
    expect(await ok(...args)).toBe(`Lily saw a dog${json.text}\n`);
  });

  test('--json reports the ids and text of the new tokens; --profile prints the table to stderr', async () => {
    const want = JSON.parse(readFileSync(join(root, 'test/fixtures/stories260K-greedy-ids.json'), 'utf8')).ids as number[];
    const r = await tessera('generate', '--model', dataPath('stories260K'), '--temperature', '0', '--max-new-tokens', '20', '--json', '--profile', '');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ids).toEqual(want.slice(0, 20));
    expect(result.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(r.stderr).toContain('profile');
  });
});
