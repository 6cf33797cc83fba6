/**
 * What every model command shares: the `--model`, `--max-context` and `--profile` options, checking
 * them, and loading the model onto a fresh device.
 */
import { createDevice, type Gpu } from '../device/gpu.ts';
import { LanguageModel } from '../models/lm.ts';
import { UsageError, type OptionSpec, type ParsedArgs } from './args.ts';
import { modelOption, modelPath } from './shipped.ts';

export const modelOptions: Record<string, OptionSpec> = {
  model: modelOption('generate', 'model folder (Hugging Face config.json + model.safetensors) or llama2.c .bin'),
  'max-context': { type: 'number', help: "KV-cache length in tokens (default: the model's context)" },
  profile: { type: 'boolean', help: 'print the per-node profile table to stderr after the run' },
};

export interface LoadedModel {
  gpu: Gpu;
  lm: LanguageModel;
  /** Prints the profile table if --profile was given, then frees the model and the device. */
  close(): void;
}

export async function loadModel(options: ParsedArgs['options']): Promise<LoadedModel> {
  const path = modelPath(options.model as string | undefined, 'generate');
  const maxContext = options['max-context'] as number | undefined;
  if (maxContext !== undefined && !(Number.isInteger(maxContext) && maxContext > 0)) {
    throw new UsageError(`option '--max-context' needs a positive integer, got ${maxContext}`);
  }
  const gpu = await createDevice();
  let lm: LanguageModel;
  try {
    lm = await LanguageModel.load(gpu, path, { maxContext, profile: options.profile === true });
  } catch (err) {
    gpu.destroy();
    throw err;
  }
  return {
    gpu,
    lm,
    close() {
      if (options.profile) process.stderr.write(lm.profileTable() + '\n');
      lm.destroy();
      gpu.destroy();
    },
  };
}

/** Resolves once `text` has been handed to the OS, so exiting right after loses nothing. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}
