/**
 * The models that ship in the repository's `models/` folder, found relative to the package (the
 * folder holding Tessera's package.json), so `npx tessera generate "ROMEO:"` works from any cwd.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, type OptionSpec } from './args.ts';

/** The shipped models, by name: each is a folder `models/<name>/` with a model card README.md. */
export const SHIPPED_MODELS = ['shakespeare-gpt', 'fashion-vit', 'fashion-imagegen', 'multi30k-marian'] as const;

/** Which shipped model each command uses when `--model` is not given (`logits` shares `generate`'s). */
export const DEFAULT_MODELS = {
  generate: 'shakespeare-gpt',
  imagine: 'fashion-imagegen',
  classify: 'fashion-vit',
  translate: 'multi30k-marian',
} as const satisfies Record<string, (typeof SHIPPED_MODELS)[number]>;

export type ModelCommand = keyof typeof DEFAULT_MODELS;

let root: string | undefined;

/**
 * The package root: the nearest folder above this file whose package.json is Tessera's. This file
 * runs as src/cli/shipped.ts (tests, benches) or bundled into dist/node/cli.js, so no fixed depth.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'tessera') return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tessera: no package.json of 'tessera' above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The folder of a shipped model (whether or not it exists: callers say what is missing). */
export function shippedModelPath(name: string): string {
  return join(packageRoot(), 'models', name);
}

/** A command's `--model` option: what it takes, and the shipped model used without it. */
export function modelOption(command: ModelCommand, takes: string): OptionSpec {
  return { type: 'string', help: `${takes} (default: the shipped models/${DEFAULT_MODELS[command]})` };
}

/**
 * The model a command runs: the `--model` option if given, else the command's shipped default
 * (from the package, not the cwd). Either way it must exist; the error says which one is missing.
 */
export function modelPath(given: string | undefined, command: ModelCommand): string {
  const path = given ?? shippedModelPath(DEFAULT_MODELS[command]);
  if (existsSync(path)) return path;
  throw new UsageError(
    given !== undefined
      ? `option '--model': no such file or folder '${given}'`
      : `no --model given and the shipped model '${DEFAULT_MODELS[command]}' is missing (${path}); give --model`,
  );
}
