/**
 * `tessera classify`: label images with a ViT classifier (a Hugging Face ViTForImageClassification folder).
 *
 *   tessera classify demo/samples/*.png                    the shipped fashion-vit: the top 5 classes of each
 *   tessera classify --model DIR cat.png dog.jpg           another ViT classifier
 *   tessera classify --model DIR photos/ --top-k 1 --json  every PNG/JPEG in a folder, one JSON line each
 *   tessera classify --model DIR --input list.jsonl        one {"file": "path"} per line
 *
 * Images run in batches (--batch, one compute pass each), in the order given; a progress bar goes
 * to stderr. `--json` prints one object a line: file, index, label, score (softmax), top (the
 * --top-k best) and the full pre-softmax logits.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createDevice } from '../device/gpu.ts';
import { loadImage } from '../models/vit/image.ts';
import { VisionTransformer, type Classification } from '../models/vit/model.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import type { Command } from './commands.ts';
import { writeStdout } from './model.ts';
import { ProgressBar } from './progress.ts';
import { modelOption, modelPath } from './shipped.ts';

const options: Record<string, OptionSpec> = {
  model: modelOption('classify', 'ViT folder: config.json, model.safetensors, preprocessor_config.json'),
  'top-k': { type: 'number', help: 'classes listed per image', default: 5 },
  json: { type: 'boolean', help: 'one JSON line per image: file, index, label, score, top, logits' },
  input: { type: 'string', help: 'a JSONL file of {"file": "path"} lines (paths relative to that file)' },
  batch: { type: 'number', help: 'images per compute pass', default: 8 },
  'image-size': { type: 'number', help: "run at this square image size (position embeddings interpolated; default: the model's)" },
  profile: { type: 'boolean', help: 'print the per-node profile table to stderr after the run' },
  help: { type: 'boolean', help: 'show this help' },
};

const SYNOPSIS = '[--model DIR] [options] (image.png … | folder | --input list.jsonl)';
const IMAGE_FILE = /\.(png|jpe?g)$/i;

/** The images named on the command line (files, or folders of PNG/JPEG files) or by the list file, in order. */
export function collectImages(positional: readonly string[], input: string | undefined): string[] {
  if (input !== undefined) {
    if (positional.length > 0) throw new UsageError(`give images on the command line or '--input', not both`);
    let text: string;
    try {
      text = readFileSync(input, 'utf8');
    } catch (err) {
      throw new UsageError(`option '--input': cannot read '${input}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const files: string[] = [];
    text.split('\n').forEach((raw, index) => {
      if (raw.trim() === '') return;
      const where = `${input} line ${index + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw new UsageError(`${where}: not valid JSON (${(err as Error).message})`);
      }
      const file = (value as { file?: unknown } | null)?.file;
      if (typeof value !== 'object' || Array.isArray(value) || typeof file !== 'string' || file === '') throw new UsageError(`${where}: expected {"file": "path"}`);
      const extra = Object.keys(value as object).filter((k) => k !== 'file');
      if (extra.length > 0) throw new UsageError(`${where}: unknown key "${extra[0]}" (only "file")`);
      files.push(isAbsolute(file) ? file : join(dirname(input), file));
    });
    if (files.length === 0) throw new UsageError(`'${input}' lists no images`);
    return files;
  }
  if (positional.length === 0) throw new UsageError(`classify needs images, a folder or '--input'\n${usage('classify', SYNOPSIS, options)}`);
  const files: string[] = [];
  for (const path of positional) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`no such file or folder '${path}'`);
    if (!stat.isDirectory()) {
      files.push(path);
      continue;
    }
    const inside = readdirSync(path).filter((name) => IMAGE_FILE.test(name)).sort();
    if (inside.length === 0) throw new UsageError(`folder '${path}' holds no .png, .jpg or .jpeg files`);
    files.push(...inside.map((name) => join(path, name)));
  }
  return files;
}

function describe(file: string, r: Classification, json: boolean): string {
  if (json) {
    return JSON.stringify({ file, index: r.index, label: r.label, score: r.score, top: r.top, logits: Array.from(r.logits) }) + '\n';
  }
  const rows = r.top.map((t) => `  ${(100 * t.score).toFixed(2).padStart(6)}%  ${t.label} (${t.index})`);
  return `${file}\n${rows.join('\n')}\n`;
}

export const classify: Command = {
  summary: 'label images with a ViT classifier (files, a folder, or --input list.jsonl)',
  async run(argv) {
    const { positional, options: o } = parseArgs(argv, options);
    if (o.help) {
      process.stdout.write(usage('classify', SYNOPSIS, options) + '\n');
      return 0;
    }
    const model = modelPath(o.model as string | undefined, 'classify');
    const topK = o['top-k'] as number, batch = o.batch as number;
    if (!Number.isInteger(topK) || topK < 1) throw new UsageError(`option '--top-k' needs an integer >= 1, got ${topK}`);
    if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`option '--batch' needs an integer >= 1, got ${batch}`);
    const imageSize = o['image-size'] as number | undefined;
    if (imageSize !== undefined && !(Number.isInteger(imageSize) && imageSize > 0)) throw new UsageError(`option '--image-size' needs a positive integer, got ${imageSize}`);
    const files = collectImages(positional, o.input as string | undefined);

    const gpu = await createDevice();
    try {
      const vit = await VisionTransformer.load(gpu, resolve(model), { maxBatch: batch, profile: o.profile === true, imageSize });
      try {
        const progress = new ProgressBar(files.length, 'classify');
        for (let start = 0; start < files.length; start += batch) {
          const chunk = files.slice(start, start + batch);
          const images = await Promise.all(chunk.map((file) => loadImage(file)));
          const results = await vit.classify(images, { topK });
          await writeStdout(results.map((r, i) => describe(chunk[i]!, r, o.json === true)).join(''));
          progress.tick(chunk.length);
        }
        if (o.profile) process.stderr.write(vit.profileTable() + '\n');
      } finally {
        await vit.destroy();
      }
    } finally {
      gpu.destroy();
    }
    return 0;
  },
};
