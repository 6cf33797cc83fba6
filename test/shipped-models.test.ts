// The models that ship in models/: Tessera reproduces the figures their training scripts recorded
// with PyTorch (models/<name>/metrics.json), and the CLI uses them when --model is not given.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { heldOutLoss, readIdx, shakespeareHeldOut } from '../src/cli/eval.ts';
import { DEFAULT_MODELS, modelPath, packageRoot, SHIPPED_MODELS, shippedModelPath } from '../src/cli/shipped.ts';
import type { Gpu } from '../src/device/gpu.ts';
import { LanguageModel } from '../src/models/lm.ts';
import { loadGpt2Tokenizer } from '../src/models/tokenizers/gpt2.ts';
import { DATA_DIR, dataPath, hasData } from './util/data.ts';
import { testDevice } from './util/gpu.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/node/cli.js');
const gptDir = join(root, 'models/shakespeare-gpt');
const vitDir = join(root, 'models/fashion-vit');
const imagegenDir = join(root, 'models/fashion-imagegen');
const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Record<string, any>;

function tessera(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { cwd, env: { ...process.env, TESSERA_DATA: DATA_DIR }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('shipped models are found relative to the package, not the cwd', () => {
  expect(packageRoot()).toBe(root);
  expect(shippedModelPath('shakespeare-gpt')).toBe(gptDir);
});

test('each model command defaults to a shipped model, and a missing --model path is a usage error', () => {
  for (const [command, name] of Object.entries(DEFAULT_MODELS)) {
    expect(SHIPPED_MODELS).toContain(name);
    expect(modelPath(undefined, command as keyof typeof DEFAULT_MODELS)).toBe(join(root, 'models', name));
  }
  expect(modelPath(vitDir, 'classify')).toBe(vitDir);
  expect(() => modelPath(join(root, 'no/such/model'), 'translate')).toThrow(`option '--model': no such file or folder '${join(root, 'no/such/model')}'`);
});

describe('shakespeare-gpt', () => {
  test('its tokenizer is one token per byte: GPT-2 byte-level BPE with an empty merges file', async () => {
    expect(readFileSync(join(gptDir, 'merges.txt'), 'utf8').trim()).toBe('#version: 0.2');
    const tok = await loadGpt2Tokenizer(gptDir);
    const text = "ROMEO:\nWhat, ho! Is't thou?  \n\n";
    const ids = tok.encode(text);
    expect(ids).toEqual([...new TextEncoder().encode(text)]);
    expect(tok.decode(ids)).toBe(text);
  });

  describe.skipIf(!hasData('tinyshakespeare/input.txt'))('held-out loss', () => {
    let gpu: Gpu;
    beforeAll(async () => {
      gpu = await testDevice();
    });
    afterAll(() => gpu?.destroy());

    test("the first windows' loss agrees with PyTorch's float64 figure", async () => {
      const recorded = metrics(gptDir).slice as { windows: number; chars_predicted: number; loss_nats_per_char: number };
      const lm = await LanguageModel.load(gpu, gptDir);
      try {
        const text = shakespeareHeldOut(DATA_DIR);
        expect(text.length).toBe(111540);
        const r = await heldOutLoss(lm, text, recorded.windows);
        expect(r.windows).toBe(recorded.windows);
        expect(r.chars).toBe(recorded.chars_predicted);
        expect(r.tokens).toBe(recorded.chars_predicted); // one token per character
        expect(Math.abs(r.nats / r.chars - recorded.loss_nats_per_char)).toBeLessThan(1e-3);
      } finally {
        lm.destroy();
      }
    });
  });
});

describe('the CLI with the shipped models', () => {
  let elsewhere: string;
  beforeAll(() => {
    execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
    elsewhere = mkdtempSync(join(tmpdir(), 'tessera-shipped-'));
  });
  afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

  test('`generate` without --model runs shakespeare-gpt, from any cwd, greedy as PyTorch', async () => {
    const r = await tessera(elsewhere, 'generate', '--max-new-tokens', '60', '--json', 'ROMEO:');
    expect(r.code, r.stderr).toBe(0);
    const { text } = JSON.parse(r.stdout) as { text: string };
    expect(text).toBe((metrics(gptDir).greedy_samples['ROMEO:'] as string).slice(0, 60));
  });

  test.skipIf(!hasData('tinyshakespeare/input.txt'))('`eval --limit` reproduces the recorded slice and passes its check', async () => {
    const r = await tessera(elsewhere, 'eval', '--model', 'shakespeare-gpt', '--limit', String(metrics(gptDir).slice.windows), '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = (JSON.parse(r.stdout) as Record<string, any>)['shakespeare-gpt'];
    expect(report.checks.length).toBe(1); // agreement only: the target is for the whole held-out text
    expect(report.checks[0].ok).toBe(true);
    expect(report.pytorch.loss_nats_per_char).toBe(metrics(gptDir).slice.loss_nats_per_char);
  });

  test.skipIf(!existsSync(join(root, 'src/models/vit')) || !existsSync(vitDir) || !hasData('fashion-mnist/t10k-images-idx3-ubyte.gz'))(
    '`eval --model fashion-vit --limit 256`: same top-1 as PyTorch',
    async () => {
      const r = await tessera(elsewhere, 'eval', '--model', 'fashion-vit', '--limit', '256', '--json');
      expect(r.code, r.stderr).toBe(0);
      const report = (JSON.parse(r.stdout) as Record<string, any>)['fashion-vit'];
      const labels = readIdx(dataPath('fashion-mnist/t10k-labels-idx1-ubyte.gz')).data.subarray(0, 256);
      const torchTop1 = [...(metrics(vitDir).test_predictions as string).slice(0, 256)].map(Number);
      expect(report.metrics.correct).toBe(torchTop1.filter((p, i) => p === labels[i]).length);
      expect(report.pytorch.same_top1).toBeGreaterThanOrEqual(0.999);
    },
  );

  test('`imagine` without --model draws with fashion-imagegen', async () => {
    const out = join(elsewhere, 'sneaker.png');
    const r = await tessera(elsewhere, 'imagine', 'a sneaker', '-o', out, '--seed', '1');
    expect(r.code, r.stderr).toBe(0);
    const { imagegen } = JSON.parse(readFileSync(join(imagegenDir, 'config.json'), 'utf8')) as { imagegen: { grid_height: number; grid_width: number; patch_size: number } };
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([imagegen.grid_width * imagegen.patch_size * 4, imagegen.grid_height * imagegen.patch_size * 4]); // default --scale 4
  });

  test('`classify` without --model labels a demo sample with fashion-vit', async () => {
    const r = await tessera(elsewhere, 'classify', join(root, 'demo/samples/7-sneaker.png'), '--json', '--top-k', '3');
    expect(r.code, r.stderr).toBe(0);
    const { label, top } = JSON.parse(r.stdout) as { label: string; top: { label: string }[] };
    const classes = Object.values((JSON.parse(readFileSync(join(vitDir, 'config.json'), 'utf8')) as { id2label: Record<string, string> }).id2label);
    expect(classes).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    expect(label).toBe('Sneaker');
    expect(top.length).toBe(3);
  });

  test('`translate` without --model translates English to German with multi30k-marian', async () => {
    const r = await tessera(elsewhere, 'translate', 'A man rides a bicycle.');
    expect(r.code, r.stderr).toBe(0);
    const german = r.stdout.trim();
    expect(german).toMatch(/\p{L}{2}/u);
    expect(german).not.toContain('\n');
    expect(german.toLowerCase()).not.toContain('bicycle');
  });

  test('usage errors name the problem', async () => {
    let r = await tessera(elsewhere, 'eval', '--model', 'no-such-model');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'no-such-model' is neither a shipped model");
    r = await tessera(elsewhere, 'eval', '--limit', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'--limit' needs a positive integer");
    r = await tessera(elsewhere, 'eval', '--model', 'shakespeare-gpt', '--data', join(elsewhere, 'nothing'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs');
  });
});
