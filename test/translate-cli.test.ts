// `tessera translate`, run as users run it: the built dist/node/cli.js in a child process.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeSafetensors, type SafetensorsTensor } from '../src/models/safetensors.ts';
import { MarianTokenizer } from '../src/models/tokenizers/marian.ts';
import { Rng } from './util/rng.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const model = join(root, 'test/fixtures/models/marian-tiny');
const golden = JSON.parse(readFileSync(join(model, 'golden.json'), 'utf8')) as {
  greedy: { sources: number[][]; max_new_tokens: number; ids: number[][] }[];
  beam: { sources: number[][]; num_beams: number; max_new_tokens: number; ids: number[][] }[];
};

function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, 'translate', ...args], { cwd: root, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await tessera(...args);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

let tmp: string;
beforeAll(() => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'tessera-translate-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('--ids --json: greedy and beam search give the PyTorch reference ids', async () => {
  const g = golden.greedy[0]!;
  const greedy = JSON.parse(await ok('--model', model, '--ids', g.sources[0]!.join(','), '--json', '--beams', '1', '--max-new-tokens', String(g.max_new_tokens)));
  expect(greedy).toEqual({ ids: g.ids[0] });
  const b = golden.beam[0]!;
  const beam = JSON.parse(await ok('--model', model, '--ids', b.sources[0]!.join(','), '--json', '--beams', String(b.num_beams), '--max-new-tokens', String(b.max_new_tokens)));
  expect(beam).toEqual({ ids: b.ids[0] });
});

test('batch mode: one result line per input line, in order, with a progress bar (and --profile) on stderr', async () => {
  const g = golden.greedy[1]!;
  const input = join(tmp, 'in.jsonl');
  const output = join(tmp, 'out.jsonl');
  writeFileSync(input, g.sources.map((ids) => JSON.stringify({ ids })).join('\n\n') + '\n');
  const r = await tessera('--model', model, '--input', input, '--output', output, '--beams', '1', '--max-new-tokens', String(g.max_new_tokens), '--batch-size', '3', '--profile');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/translate \[#+\] 4\/4/);
  // --profile: the first run of each shape, node by node (batches of 3 and 1 sources)
  expect(r.stderr).toMatch(/marian encoder \(3 × 8 tokens\)[\s\S]*encoder\.0\.attention[\s\S]*marian decoder step \(3 rows\)[\s\S]*lm_head/);
  expect(readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l).ids)).toEqual(g.ids);
});

test('errors name the option or the input line and exit with status 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--model', join(tmp, 'nowhere'), '--ids', '5,0'], /option '--model': no such file or folder '.*nowhere'/],
    [['--model', model, 'some text'], /has no tokenizer .*give token ids/],
    [['--model', model, '--ids', '5,200,0'], /token id 200 at index 1 is not in the vocabulary \[0, 89\)/],
    [['--model', model, '--ids', '5,0', '--beams', '0'], /'--beams' needs an integer >= 1/],
    [['--model', model, '--ids', '5,0', '--max-new-tokens', '65'], /maxNewTokens must be an integer in \[1, 64\]/],
    [['--model', model], /translate needs text, '--ids' or '--input'/],
  ];
  const runs = await Promise.all(cases.map(([args]) => tessera(...args)));
  runs.forEach((r, i) => {
    const what = cases[i]![0].join(' ');
    expect(r.code, what).toBe(2);
    expect(r.stderr, what).toMatch(cases[i]![1]);
  });
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, '{"ids": [5, 0]}\n{"ids": [5, 300, 0]}\n');
  const r = await tessera('--model', model, '--input', bad);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/bad\.jsonl line 2: token id 300/);
  writeFileSync(bad, '{"ids": [5, 0]}\n{"txt": "x"}\n');
  expect((await tessera('--model', model, '--input', bad)).stderr).toMatch(/bad\.jsonl line 2: unknown key "txt"/);
});

test('text to text with a SentencePiece tokenizer (source.spm, target.spm, vocab.json)', async () => {
  // A small random-weight model over the Multi30k SentencePiece vocabulary of the tokenizer fixtures.
  const spm = join(root, 'test/fixtures/sentencepiece/marian');
  const dir = join(tmp, 'marian-spm');
  mkdirSync(dir);
  for (const f of ['source.spm', 'target.spm', 'vocab.json', 'tokenizer_config.json']) copyFileSync(join(spm, f), join(dir, f));
  const V = Object.keys(JSON.parse(readFileSync(join(spm, 'vocab.json'), 'utf8'))).length;
  const D = 16, F = 24;
  const config = {
    model_type: 'marian', vocab_size: V, d_model: D, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 2, decoder_attention_heads: 2,
    encoder_ffn_dim: F, decoder_ffn_dim: F, activation_function: 'swish', max_position_embeddings: 64, scale_embedding: true,
    pad_token_id: V - 1, eos_token_id: 0, decoder_start_token_id: V - 1, forced_eos_token_id: 0, bad_words_ids: [[V - 1]], num_beams: 2, max_length: 16,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const rng = new Rng(5);
  const tensors: Record<string, SafetensorsTensor> = {};
  const put = (name: string, shape: number[], std: number) => (tensors[name] = { dtype: 'F32', shape, data: rng.normal(shape.reduce((a, b) => a * b, 1), std) });
  put('model.shared.weight', [V, D], 0.5);
  put('final_logits_bias', [1, V], 0.1);
  for (const [side, attns] of [['encoder', ['self_attn']], ['decoder', ['self_attn', 'encoder_attn']]] as const) {
    const p = `model.${side}.layers.0`;
    for (const a of attns) {
      for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) put(`${p}.${a}.${proj}.weight`, [D, D], 0.25), put(`${p}.${a}.${proj}.bias`, [D], 0.1);
      put(`${p}.${a}_layer_norm.weight`, [D], 1), put(`${p}.${a}_layer_norm.bias`, [D], 0.1);
    }
    put(`${p}.fc1.weight`, [F, D], 0.25), put(`${p}.fc1.bias`, [F], 0.1), put(`${p}.fc2.weight`, [D, F], 0.2), put(`${p}.fc2.bias`, [D], 0.1);
    put(`${p}.final_layer_norm.weight`, [D], 1), put(`${p}.final_layer_norm.bias`, [D], 0.1);
  }
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors));

  const texts = ['A dog runs on the grass.', 'Two young men are playing soccer.'];
  const plain = (await ok('--model', dir, ...texts)).split('\n');
  const json = (await ok('--model', dir, '--json', ...texts)).trim().split('\n').map((l) => JSON.parse(l) as { ids: number[]; text: string });
  const tokenizer = await MarianTokenizer.fromDirectory(dir);
  expect(json).toHaveLength(2);
  json.forEach((r, i) => {
    expect(r.ids.length).toBeGreaterThan(0);
    expect(r.ids.length).toBeLessThanOrEqual(15);
    expect(r.text).toBe(tokenizer.decode(r.ids));
    expect(plain[i]).toBe(r.text);
  });
  // the same sources given as ids translate the same
  const byIds = JSON.parse(await ok('--model', dir, '--json', '--ids', tokenizer.encode(texts[0]!).join(',')));
  expect(byIds).toEqual(json[0]);
});

test("the folder's generation_config.json gives the defaults, as in HF; flags override it", async () => {
  const dir = join(root, 'test/fixtures/models/marian-tiny-genconfig');
  const g = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as { sources: number[][]; cases: { name: string; ids: number[][] }[] };
  const want = (name: string, row: number) => g.cases.find((c) => c.name.startsWith(name))!.ids[row];
  const row = 3; // 8 source tokens
  const ids = g.sources[row]!.join(',');
  const json = async (...args: string[]) => JSON.parse(await ok('--model', dir, '--ids', ids, '--json', ...args)) as { ids: number[] };
  // 4 beams, max_length 64, pad banned, forced EOS: all from generation_config.json
  expect(await json()).toEqual({ ids: want('defaults', row) });
  expect(await json('--beams', '1')).toEqual({ ids: want('greedy', row) });
  expect(await json('--beams', '1', '--max-new-tokens', '20', '--min-new-tokens', '6')).toEqual({ ids: want('greedy, min_new_tokens 6, max_new_tokens 20', row) });
  expect(await json('--beams', '3', '--length-penalty', '0.6', '--early-stopping', 'true', '--max-new-tokens', '30')).toEqual({ ids: want('3 beams, length_penalty 0.6, early_stopping true', row) });
  // the same folder without generation_config.json: config.json's keys and HF's defaults (greedy, max_length 20, pad not banned)
  const bare = join(tmp, 'marian-tiny-no-genconfig');
  mkdirSync(bare);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(dir, f), join(bare, f));
  expect(JSON.parse(await ok('--model', bare, '--ids', ids, '--json'))).toEqual({ ids: want('no generation_config.json', row) });
  // --help says where the defaults come from
  expect(await ok('--help')).toMatch(/--beams <number> +beam search width; 1 = greedy \(default: num_beams of the model's generation config: generation_config\.json, else config\.json\)/);
  const bad = await tessera('--model', dir, '--ids', ids, '--early-stopping', 'soon');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/option '--early-stopping' needs true, false or never, got 'soon'/);
});
