/**
 * `tessera eval`: the shipped models' metrics, computed by Tessera itself on the shared data sets,
 * next to the figure PyTorch computed from the same checkpoint (the training script's metrics.json)
 * and the model's target.
 *
 *   tessera eval                                   every shipped model that is present
 *   tessera eval --model shakespeare-gpt --json    one model, as JSON
 *   tessera eval --model fashion-vit --limit 500   only the first 500 test images
 *   tessera eval --model multi30k-marian --limit 100   BLEU of the first 100 test sentences
 *
 * Each evaluation is an entry in EVALUATIONS: what it measures, the data it reads, and a `run`
 * that returns metrics and checks. A folder given as --model is evaluated like the shipped model of
 * its kind (config.json model_type). The exit status is 1 when a check fails (a missed target, or
 * a figure that disagrees with PyTorch's), 2 on a usage error.
 *
 * shakespeare-gpt: the held-out loss in nats per character on the last 10 % of Tiny Shakespeare.
 *   The held-out text is tokenized, cut into consecutive non-overlapping windows of the model's
 *   context length (the last one shorter), and each window runs from position 0: every token after
 *   the first is predicted exactly once, with 1 to context-length tokens of context. The log-softmax
 *   is taken in float64 on the host. Per character = total nats / characters predicted.
 * fashion-vit: top-1 accuracy on the 10,000 Fashion-MNIST test images (preprocessed with the
 *   model's preprocessor_config.json), with images/s of the forward passes.
 * fashion-imagegen: the share of images generated from each class prompt (temperature 1, 50 seeds
 *   per class) that the shipped fashion-vit classifies as that class (src/cli/imagegen-eval.ts).
 * multi30k-marian: BLEU of the translator's beam search (config.json's num_beams and lengths) on the
 *   1,000 English → German sentences of Multi30k test_2016_flickr, nltk's corpus BLEU over 13a tokens
 *   as the training script computes it (src/cli/bleu.ts); the first 100 sentences are also
 *   translated greedily and must give PyTorch's ids (greedy_test100.jsonl)
 *   (src/cli/translation-eval.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createDevice, type Gpu } from '../device/gpu.ts';
import { LanguageModel } from '../models/lm.ts';
import { normalizePixels } from '../models/vit/image.ts';
import { VisionTransformer } from '../models/vit/model.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import type { Command } from './commands.ts';
import { ProgressBar } from './progress.ts';
import { evaluateImagegen } from './imagegen-eval.ts';
import { evaluateTranslation, TRANSLATION_TEST_FILES } from './translation-eval.ts';
import { packageRoot, SHIPPED_MODELS, shippedModelPath } from './shipped.ts';

/** One pass/fail line of a report: a target, or agreement with PyTorch. */
export interface Check {
  name: string;
  ok: boolean;
}

export interface EvalReport {
  model: string;
  folder: string;
  /** What was measured, on what data. */
  task: string;
  metrics: Record<string, number | string | number[][]>;
  /** PyTorch's figure for the same checkpoint and data (from metrics.json), where one was recorded. */
  pytorch?: Record<string, number>;
  checks: Check[];
  /** One line for the text report. */
  summary: string;
}

interface Evaluation {
  task: string;
  /** Files under the data folder it reads. */
  data: string[];
  run(gpu: Gpu, folder: string, dataDir: string, limit: number | undefined): Promise<EvalReport>;
}

/** Read the training script's metrics.json, if the folder has one. */
function trainingMetrics(folder: string): Record<string, unknown> | undefined {
  const path = join(folder, 'metrics.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : undefined;
}

// ---- language model: held-out loss per character --------------------------------------------

/** Tiny Shakespeare's held-out part: the last 10 % of the bytes (as the training script splits it). */
export function shakespeareHeldOut(dataDir: string): string {
  const bytes = readFileSync(join(dataDir, 'tinyshakespeare', 'input.txt'));
  return new TextDecoder().decode(bytes.subarray(Math.floor(0.9 * bytes.length)));
}

export interface HeldOutLoss {
  /** Sum of −log p(next token), in nats. */
  nats: number;
  tokens: number;
  /** Characters those predicted tokens spell (every character of the text after the first token). */
  chars: number;
  windows: number;
  windowLength: number;
}

/**
 * The LM's loss on `text`: consecutive non-overlapping windows of the model's context, each from
 * position 0 (see the file comment). `maxWindows` stops early, for quick checks.
 */
export async function heldOutLoss(lm: LanguageModel, text: string, maxWindows = Infinity, onWindow?: () => void): Promise<HeldOutLoss> {
  if (!lm.tokenizer) throw new UsageError('eval: the language model has no tokenizer');
  const ids = lm.tokenizer.encode(text);
  if (ids.length < 2) throw new UsageError('eval: the held-out text is shorter than two tokens');
  const L = lm.maxContext;
  const V = lm.config.vocabSize;
  let nats = 0, tokens = 0, windows = 0;
  let lastTarget = 0;
  for (let start = 0; start < ids.length - 1 && windows < maxWindows; start += L, windows++) {
    const end = Math.min(start + L, ids.length - 1);
    const logits = await lm.logits(ids.slice(start, end));
    for (let t = 0; t < end - start; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, row[v]!);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - max);
      nats += Math.log(sum) + max - row[ids[start + t + 1]!]!;
    }
    tokens += end - start;
    lastTarget = end;
    onWindow?.();
  }
  const chars = lm.tokenizer.decode(ids.slice(1, lastTarget + 1)).length;
  return { nats, tokens, chars, windows, windowLength: L };
}

const LM_TARGET = 1.75; // nats per character (issue 7)
const AGREEMENT = 1e-3; // |Tessera − PyTorch| in nats per character

const heldOutEvaluation: Evaluation = {
  task: 'held-out loss per character on the last 10 % of Tiny Shakespeare',
  data: ['tinyshakespeare/input.txt'],
  async run(gpu, folder, dataDir, limit) {
    const text = shakespeareHeldOut(dataDir);
    const lm = await LanguageModel.load(gpu, folder);
    try {
      const total = Math.ceil((lm.tokenizer?.encode(text).length ?? 1) / lm.maxContext);
      const bar = new ProgressBar(Math.min(total, limit ?? Infinity), 'windows');
      const t0 = performance.now();
      const r = await heldOutLoss(lm, text, limit, () => bar.tick());
      const seconds = (performance.now() - t0) / 1000;
      const loss = r.nats / r.chars;
      const metrics = {
        loss_nats_per_char: loss,
        bits_per_char: loss / Math.LN2,
        chars_predicted: r.chars,
        tokens_predicted: r.tokens,
        windows: r.windows,
        window_length: r.windowLength,
        seconds,
        tokens_per_second: r.tokens / seconds,
      };
      // PyTorch's float64 figure over the same windows: the whole held-out text, or the short slice
      const recorded = trainingMetrics(folder);
      const slice = recorded?.slice as { windows: number; loss_nats_per_char: number } | undefined;
      const full = r.windows === total;
      const reference = full ? (recorded?.heldout_loss_nats_per_char as number | undefined) : slice?.windows === r.windows ? slice.loss_nats_per_char : undefined;
      const checks: Check[] = [];
      if (full) checks.push({ name: `held-out loss ${loss.toFixed(4)} <= ${LM_TARGET} nats/char`, ok: loss <= LM_TARGET });
      if (reference !== undefined) {
        const delta = Math.abs(loss - reference);
        checks.push({ name: `agrees with PyTorch's ${reference.toFixed(6)} within ${AGREEMENT} (|diff| ${delta.toExponential(1)})`, ok: delta <= AGREEMENT });
      }
      return {
        model: basename(folder),
        folder,
        task: this.task,
        metrics,
        pytorch: reference === undefined ? undefined : { loss_nats_per_char: reference },
        checks,
        summary: `held-out loss ${loss.toFixed(4)} nats/char (${(loss / Math.LN2).toFixed(3)} bits/char) over ${r.chars} chars, ${r.windows}${full ? '' : ` of ${total}`} windows of ${r.windowLength}; ${seconds.toFixed(1)} s`,
      };
    } finally {
      lm.destroy();
    }
  },
};

// ---- image classifier: Fashion-MNIST test accuracy -------------------------------------------

/** An IDX file (gzip): magic 0x00000801 (labels, 1 dim) or 0x00000803 (images, 3 dims), big-endian dims, uint8 data. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  const raw = gunzipSync(readFileSync(path));
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0);
  const ndim = magic & 0xff;
  if (magic >>> 8 !== 0x08 || (ndim !== 1 && ndim !== 3)) throw new UsageError(`eval: '${path}' is not an unsigned-byte IDX file (magic 0x${magic.toString(16)})`);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const data = raw.subarray(4 + 4 * ndim);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new UsageError(`eval: '${path}' holds ${data.length} bytes of data, its header says ${dims.join('×')}`);
  return { dims, data };
}

const VIT_TARGET = 0.88; // top-1 on the 10,000 test images (issue 7)
const SAME_TOP1 = 0.999; // share of images whose top-1 must match PyTorch's

const fashionEvaluation: Evaluation = {
  task: 'top-1 accuracy on the 10,000 Fashion-MNIST test images',
  data: ['fashion-mnist/t10k-images-idx3-ubyte.gz', 'fashion-mnist/t10k-labels-idx1-ubyte.gz'],
  async run(gpu, folder, dataDir, limit) {
    const images = readIdx(join(dataDir, this.data[0]!));
    const labels = readIdx(join(dataDir, this.data[1]!)).data;
    const [count, height, width] = images.dims as [number, number, number];
    const n = Math.min(count, limit ?? Infinity);
    const vit = await VisionTransformer.load(gpu, folder, { maxBatch: 64 });
    try {
      const c = vit.config;
      if (c.numChannels !== 1 || c.imageHeight !== height || c.imageWidth !== width) {
        throw new UsageError(`eval: '${folder}' takes ${c.numChannels}×${c.imageHeight}×${c.imageWidth} images, Fashion-MNIST's are 1×${height}×${width}`);
      }
      const plane = height * width;
      const pixels = new Float32Array(n * plane);
      for (let i = 0; i < n; i++) pixels.set(normalizePixels(images.data.subarray(i * plane, (i + 1) * plane), width, height, 1, vit.preprocessor), i * plane);
      await vit.logits(pixels.subarray(0, 64 * plane)); // compile the pipelines before timing
      const bar = new ProgressBar(n, 'images');
      let done = 0;
      const t0 = performance.now();
      const logits = await vit.logits(pixels, (d) => (bar.tick(d - done), (done = d)));
      const seconds = (performance.now() - t0) / 1000;
      const L = c.labels.length;
      const predictions = new Uint8Array(n);
      const confusion = Array.from({ length: L }, () => new Array<number>(L).fill(0));
      let correct = 0;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < L; k++) if (logits[i * L + k]! > logits[i * L + best]!) best = k;
        predictions[i] = best;
        confusion[labels[i]!]![best]! += 1;
        if (best === labels[i]) correct++;
      }
      const accuracy = correct / n;
      const recorded = trainingMetrics(folder);
      const torchPredictions = recorded?.test_predictions as string | undefined;
      const checks: Check[] = [];
      if (n === count) checks.push({ name: `top-1 accuracy ${(100 * accuracy).toFixed(2)} % >= ${100 * VIT_TARGET} %`, ok: accuracy >= VIT_TARGET });
      let pytorch: Record<string, number> | undefined;
      if (torchPredictions !== undefined && torchPredictions.length === count) {
        let same = 0, torchCorrect = 0;
        for (let i = 0; i < n; i++) {
          const p = Number(torchPredictions[i]);
          if (p === predictions[i]) same++;
          if (p === labels[i]) torchCorrect++;
        }
        pytorch = { accuracy: torchCorrect / n, same_top1: same / n };
        checks.push({ name: `same top-1 as PyTorch on ${same}/${n} images (>= ${100 * SAME_TOP1} %)`, ok: same / n >= SAME_TOP1 });
      }
      return {
        model: basename(folder),
        folder,
        task: this.task,
        metrics: { accuracy, correct, images: n, seconds, images_per_second: n / seconds, confusion },
        pytorch,
        checks,
        summary: `top-1 accuracy ${(100 * accuracy).toFixed(2)} % (${correct}/${n}${n === count ? '' : ` of ${count}`} test images), ${(n / seconds).toFixed(0)} images/s`,
      };
    } finally {
      await vit.destroy();
    }
  },
};

// ---- image generator: class agreement with the shipped classifier (src/cli/imagegen-eval.ts) ----

const imagegenEvaluation: Evaluation = {
  task: 'class agreement of generated images with fashion-vit',
  data: [],
  run: (gpu, folder, _dataDir, limit) => evaluateImagegen(gpu, folder, limit, trainingMetrics(folder)),
};

// ---- translator: BLEU on Multi30k's test set (src/cli/translation-eval.ts) ------------------------

const translationEvaluation: Evaluation = {
  task: 'BLEU of beam-search translations of the Multi30k test_2016_flickr sentences (English → German)',
  data: [...TRANSLATION_TEST_FILES],
  run: (gpu, folder, dataDir, limit) => evaluateTranslation(gpu, folder, dataDir, limit, trainingMetrics(folder)),
};

/** The shipped models' evaluations. */
export const EVALUATIONS: Record<string, Evaluation> = {
  'shakespeare-gpt': heldOutEvaluation,
  'fashion-vit': fashionEvaluation,
  'fashion-imagegen': imagegenEvaluation,
  'multi30k-marian': translationEvaluation,
};

/** A shipped model's name, or a folder evaluated like the shipped model of its kind. */
function resolveModel(arg: string): { name: string; folder: string; evaluation: Evaluation } {
  const named = EVALUATIONS[arg];
  if (named) return { name: arg, folder: shippedModelPath(arg), evaluation: named };
  const folder = resolve(arg);
  const configPath = join(folder, 'config.json');
  if (!existsSync(configPath)) {
    throw new UsageError(`option '--model': '${arg}' is neither a shipped model (${Object.keys(EVALUATIONS).join(', ')}) nor a model folder with a config.json`);
  }
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { model_type?: string; imagegen?: unknown };
  const type = config.model_type;
  const kind =
    config.imagegen !== undefined ? 'fashion-imagegen'
    : type === 'vit' ? 'fashion-vit'
    : type === 'gpt2' || type === 'llama' ? 'shakespeare-gpt'
    : type === 'marian' ? 'multi30k-marian'
    : undefined;
  if (!kind) throw new UsageError(`option '--model': '${arg}' has model_type ${JSON.stringify(type)}; eval knows gpt2/llama (held-out loss), vit (Fashion-MNIST accuracy), image generators (class agreement) and marian (Multi30k BLEU)`);
  return { name: basename(folder), folder, evaluation: EVALUATIONS[kind]! };
}

const options: Record<string, OptionSpec> = {
  model: { type: 'string', help: `a shipped model (${SHIPPED_MODELS.join(', ')}) or a model folder of one of their kinds (default: every shipped model present)` },
  limit: { type: 'number', help: 'evaluate only the first N windows (language model), test images (classifier) or test sentences (translator), or N seeds per class (image generator)' },
  data: { type: 'string', help: 'the shared data folder (default: $TESSERA_DATA, else ../shared/data next to the package)' },
  json: { type: 'boolean', help: 'print one JSON object {model: report} instead of text' },
  help: { type: 'boolean', help: 'show this help' },
};

export const evaluate: Command = {
  summary: "measure the shipped models (held-out loss, test accuracy, class agreement, BLEU) against PyTorch's figures and the targets",
  async run(argv) {
    const { positional, options: o } = parseArgs(argv, options);
    if (o.help) {
      process.stdout.write(usage('eval', '[--model NAME|DIR] [--limit N] [--json]', options) + '\n');
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`eval takes no positional arguments, got '${positional[0]}' (use --model)`);
    const limit = o.limit as number | undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError(`option '--limit' needs a positive integer, got ${limit}`);
    const dataDir = resolve((o.data as string | undefined) ?? process.env.TESSERA_DATA ?? join(packageRoot(), '..', 'shared', 'data'));

    const targets = o.model !== undefined ? [resolveModel(o.model as string)] : Object.keys(EVALUATIONS).map(resolveModel).filter((t) => existsSync(t.folder));
    if (targets.length === 0) throw new UsageError(`eval: none of the shipped models (${Object.keys(EVALUATIONS).join(', ')}) is in ${join(packageRoot(), 'models')}`);
    for (const t of targets) {
      if (!existsSync(t.folder)) throw new UsageError(`eval: the shipped model '${t.name}' is missing (${t.folder})`);
      const missing = t.evaluation.data.filter((f) => !existsSync(join(dataDir, f)));
      if (missing.length > 0) throw new UsageError(`eval: ${t.name} needs ${missing.map((f) => join(dataDir, f)).join(', ')} (set --data or TESSERA_DATA)`);
    }

    const gpu = await createDevice();
    const reports: Record<string, EvalReport> = {};
    try {
      for (const t of targets) {
        const report = await t.evaluation.run(gpu, t.folder, dataDir, limit);
        reports[t.name] = { ...report, model: t.name };
        if (!o.json) {
          process.stdout.write(`${t.name}: ${report.summary}\n`);
          for (const c of report.checks) process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
        }
      }
    } finally {
      gpu.destroy();
    }
    if (o.json) process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
    return Object.values(reports).every((r) => r.checks.every((c) => c.ok)) ? 0 : 1;
  },
};
