/**
 * `tessera imagine`: text → image tokens → PNG, with an image-token generator checkpoint.
 *
 *   tessera imagine "a sneaker" -o sneaker.png                          the shipped fashion-imagegen, greedy, ×4 nearest
 *   tessera imagine --model DIR "a red fox" -o fox.png                  another image-token generator
 *   tessera imagine --model DIR "a red fox" -o fox.png --temperature 1 --top-k 8 --seed 3 --upsample bilinear
 *
 * Progress goes to stderr as tokens arrive; `--json` prints one line describing the result
 * (file, prompt, token grid, size, seed) to stdout. Sampling defaults (do_sample, temperature,
 * top_k, top_p) come from the model's generation config (generation_config.json, else config.json,
 * else Hugging Face's: greedy); the options override them. The grid decides the length.
 */
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { createDevice } from '../device/gpu.ts';
import { ShapeError } from '../device/errors.ts';
import { ImageGenerator, type RenderedImage } from '../models/imagegen/generator.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import type { Command } from './commands.ts';
import { writeStdout } from './model.ts';
import { ProgressBar } from './progress.ts';
import { modelOption, modelPath } from './shipped.ts';

const options: Record<string, OptionSpec> = {
  model: modelOption('imagine', "image-generator folder (config.json with an 'imagegen' block, model.safetensors, tokenizer)"),
  output: { type: 'string', help: 'the PNG file to write (also -o)' },
  scale: { type: 'number', help: 'enlarge the picture by this integer factor', default: 4 },
  upsample: { type: 'string', help: 'how to enlarge: nearest or bilinear', default: 'nearest' },
  temperature: { type: 'number', help: "0 = greedy; above 0 samples, higher = more random (default: the model's generation config)" },
  'top-k': { type: 'number', help: "sample among the k most likely image tokens, 0 = all (default: the generation config's top_k)" },
  'top-p': { type: 'number', help: "sample among the most likely image tokens holding probability p, 1 = all (default: the generation config's)" },
  sample: { type: 'boolean', help: "sample (do_sample), at the generation config's temperature unless --temperature is given" },
  greedy: { type: 'boolean', help: 'greedy decoding, whatever the generation config says' },
  seed: { type: 'number', help: 'random seed, for reproducible sampling (default: random, printed with --json)' },
  guidance: { type: 'number', help: "classifier-free guidance scale, 1 = none (default: the model's imagegen.guidance_scale)" },
  ids: { type: 'ids', help: 'the prompt as text token ids instead of text' },
  json: { type: 'boolean', help: 'print {"file", "prompt", "tokens", "width", "height", "seed", "guidance"} to stdout' },
  help: { type: 'boolean', help: 'show this help' },
};

const SYNOPSIS = '[--model DIR] ("prompt" | --ids 1,2,3) -o out.png [--seed N] [--scale 4] [--temperature T] [--top-k K] [--top-p P] [--sample | --greedy] [--guidance S] [--upsample nearest|bilinear] [--json]';

/** `-o FILE` is `--output FILE` (the argument parser itself takes long options only). */
function expandShortOptions(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => (arg === '-o' && (end < 0 || i < end) ? '--output' : arg));
}

export function encodePng(image: RenderedImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}

export const imagine: Command = {
  summary: 'draw a PNG from a text prompt with an image-token generator',
  async run(argv) {
    const { positional, options: o } = parseArgs(expandShortOptions(argv), options);
    if (o.help) {
      process.stdout.write(usage('imagine', SYNOPSIS, options) + '\n');
      return 0;
    }
    const model = modelPath(o.model as string | undefined, 'imagine');
    const output = o.output as string | undefined;
    const ids = o.ids as number[] | undefined;
    if (output === undefined) throw new UsageError("option '-o' / '--output' is required (the PNG file to write)");
    if (positional.length > 1) throw new UsageError(`imagine takes one prompt, got ${positional.length} arguments (quote the prompt)`);
    if (ids && positional.length > 0) throw new UsageError("give a text prompt or '--ids', not both");
    if (!ids && positional.length === 0) throw new UsageError(`imagine needs a prompt (an empty one is "")\n${usage('imagine', SYNOPSIS, options)}`);
    const scale = o.scale as number;
    const temperature = o.temperature as number | undefined;
    const topK = o['top-k'] as number | undefined;
    const topP = o['top-p'] as number | undefined;
    const mode = o.upsample as string;
    if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new UsageError(`option '--scale' needs an integer in [1, 64], got ${scale}`);
    if (mode !== 'nearest' && mode !== 'bilinear') throw new UsageError(`option '--upsample' must be nearest or bilinear, got '${mode}'`);
    if (temperature !== undefined && !(temperature >= 0)) throw new UsageError(`option '--temperature' needs a number >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 0)) throw new UsageError(`option '--top-k' needs an integer >= 0, got ${topK}`);
    if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new UsageError(`option '--top-p' needs a number in (0, 1], got ${topP}`);
    if (o.sample && o.greedy) throw new UsageError("give '--sample' or '--greedy', not both");
    if (o.greedy && temperature !== undefined && temperature > 0) throw new UsageError(`'--greedy' does not sample: drop '--temperature ${temperature}'`);
    const doSample = o.sample ? true : o.greedy ? false : undefined;
    let seed = o.seed as number | undefined;
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new UsageError(`option '--seed' needs an integer in [0, 2^32), got ${seed}`);
    const guidance = o.guidance as number | undefined;
    if (guidance !== undefined && !(guidance >= 0 && Number.isFinite(guidance))) throw new UsageError(`option '--guidance' needs a number >= 0, got ${guidance}`);

    const gpu = await createDevice();
    let generator: ImageGenerator | undefined;
    try {
      generator = await ImageGenerator.load(gpu, model);
      const { gridHeight: h, gridWidth: w, imageTokenCount } = generator.config;
      if (topK !== undefined && topK > Math.min(imageTokenCount, 128)) throw new UsageError(`option '--top-k' must be at most ${Math.min(imageTokenCount, 128)} (the image tokens, and the GPU top-k limit), got ${topK}`);
      const prompt = ids ?? positional[0]!;
      try {
        generator.promptIds(prompt);
      } catch (err) {
        if (err instanceof ShapeError || (err as Error).name === 'LimitError') throw new UsageError(`the prompt: ${(err as Error).message}`);
        throw err;
      }
      const sampling = { doSample, temperature, topK, topP };
      if (generator.sampling(sampling).sample) seed ??= Math.floor(Math.random() * 2 ** 32);
      const progress = new ProgressBar(h * w, 'imagine');
      const tokens = await generator.generateTokens(prompt, { ...sampling, seed, guidanceScale: guidance, onToken: () => progress.tick() });
      const image = await generator.render(tokens, { scale, upsample: mode });
      writeFileSync(output, encodePng(image));
      if (o.json) {
        await writeStdout(JSON.stringify({ file: output, prompt, tokens: Array.from(tokens), grid: [h, w], width: image.width, height: image.height, seed: seed ?? null, guidance: guidance ?? generator.config.guidanceScale }) + '\n');
      }
    } finally {
      generator?.destroy();
      gpu.destroy();
    }
    return 0;
  },
};
