/**
 * Text → image tokens → pixels: a decoder-only language model writes H×W image tokens after a
 * prompt, and two kernels turn the grid into an RGBA image.
 *
 *  1. generate: the prompt ([BOS] text [IMAGE_START]) is prefilled, then H·W tokens are decoded in
 *     raster order with every logit outside the image-token range masked away on the GPU (greedy,
 *     or sampled with temperature / top-k / top-p and a seed; with classifier-free guidance, the
 *     empty prompt's sequence runs beside it and the choice is made from u + scale·(c − u));
 *     `onToken` sees each one arrive. The sampling defaults (do_sample, temperature, top_k,
 *     top_p) come from the generation config (generation_config.json, else config.json, else
 *     HF's); the grid fixes the length, so max_length, min_length, EOS, bad words and the forced
 *     EOS do not apply;
 *  2. detokenize: each token becomes its codebook patch (p×p RGB; a palette when p = 1);
 *  3. upsample: the picture is enlarged ×s, nearest or bilinear (PyTorch's align_corners=False).
 *
 * Checkpoint folder (see docs/api.md, "Checkpoint format"): config.json (Hugging Face gpt2 / llama config plus an
 * `imagegen` block), model.safetensors (the Transformer plus `codebook` U8 [K, p, p, 3]) and an
 * optional text tokenizer (vocab.json + merges.txt or tokenizer.json, GPT-2 byte-level BPE; with no
 * merges it is a byte-level character tokenizer).
 */

import type { Gpu } from '../../device/gpu.ts';
import { LimitError, ShapeError } from '../../device/errors.ts';
import type { Tensor } from '../../device/tensor.ts';
import { detokenize } from '../../ops/detokenize.ts';
import { upsample, type UpsampleMode } from '../../ops/upsample.ts';
import { SerialQueue } from '../../runtime/serial.ts';
import { CheckpointError } from '../errors.ts';
import { readGenerationConfigFile, type GenerationConfig } from '../generation-config.ts';
import { gpt2Config } from '../gpt2.ts';
import { listDirectory, readFileBytes, readFileText } from '../io.ts';
import { llamaConfig } from '../llama.ts';
import { LanguageModel } from '../lm.ts';
import { classifierFreeGuidance } from '../lm/guidance.ts';
import type { LoadOptions } from '../lm/loader.ts';
import { allowedTokens, type LogitsProcessor } from '../lm/logits-processor.ts';
import { generationWarning, type TokenRange } from '../lm/options.ts';
import { resolveSampling, type SamplingSettings } from '../lm/sampling.ts';
import { parseSafetensors } from '../safetensors.ts';
import { loadGpt2Tokenizer } from '../tokenizers/gpt2.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { imageGenConfig, type ImageGenConfig } from './config.ts';

/** The checkpoint tensor that holds the patches. */
export const CODEBOOK_TENSOR = 'codebook';

export interface ImageGenBuffers {
  /** config.json, parsed. */
  config: Record<string, unknown>;
  /** generation_config.json, parsed, when the folder has one (its sampling defaults then count, not config.json's). */
  generationConfig?: Record<string, unknown> | null;
  /** model.safetensors bytes. */
  weights: ArrayBuffer | ArrayBufferView;
  /** Needed for text prompts; without one, prompts are token ids. */
  tokenizer?: Tokenizer;
  /** Named in error messages. */
  source?: string;
}

/** Each sampling option overrides the checkpoint's generation config (`lm.generationConfig`). */
export interface ImageTokenOptions {
  /** Sample (true) or decode greedily (false); default: true when `temperature` is given above 0, false at 0, else the config's do_sample (HF: false). */
  doSample?: boolean;
  /** When sampling: softmax(logits / temperature) over the image tokens; 0 is greedy. Default: the config's (HF: 1). */
  temperature?: number;
  /** When sampling: among the k most likely image tokens, 0 = all. Default: the config's top_k (HF: 50), at most the image tokens. */
  topK?: number;
  /** When sampling: the nucleus of probability topP (1 = all). Default: the config's top_p. */
  topP?: number;
  /** The same seed, prompt and options give the same image. */
  seed?: number;
  /**
   * Classifier-free guidance scale: 1 is none, larger follows the prompt more closely. Default: the
   * checkpoint's `imagegen.guidance_scale` (1 when absent). Only meaningful for a model trained
   * with some prompts left empty.
   */
  guidanceScale?: number;
  /** Called as each token arrives: its raster index, its cell, and its vocabulary id. */
  onToken?: (index: number, row: number, col: number, tokenId: number) => void;
}

export interface RenderOptions {
  /** Integer enlargement factor (default 1). */
  scale?: number;
  /** 'nearest' (default) or 'bilinear'. */
  upsample?: UpsampleMode;
}

/** An RGBA8 picture, laid out as the browser's ImageData. */
export interface RenderedImage {
  width: number;
  height: number;
  /** width·height·4 bytes, row-major, R G B A. */
  data: Uint8ClampedArray;
}

export class ImageGenerator {
  /** Codebook patches as packed RGBA8 (alpha 255), u32 [K, p, p]. */
  private readonly codebook: Tensor;
  /** One call at a time, in call order (docs/runtime.md, Concurrency). */
  private readonly queue = new SerialQueue('ImageGenerator');

  private constructor(readonly lm: LanguageModel, readonly config: ImageGenConfig, codebookRgb: Uint8Array) {
    const { imageTokenCount: k, patchSize: p } = config;
    const packed = new Uint32Array(k * p * p);
    for (let i = 0; i < packed.length; i++) {
      packed[i] = (codebookRgb[3 * i]! | (codebookRgb[3 * i + 1]! << 8) | (codebookRgb[3 * i + 2]! << 16) | (255 << 24)) >>> 0;
    }
    this.codebook = lm.gpu.upload(packed, [k, p, p], 'u32');
  }

  /** Node: load a checkpoint folder (config.json, model.safetensors, optional tokenizer files). */
  static async load(gpu: Gpu, folder: string, options: LoadOptions = {}): Promise<ImageGenerator> {
    const dir = folder.replace(/[\\/]+$/, '');
    const entries = await listDirectory(dir);
    if (entries === null) throw new CheckpointError(`'${folder}' is not a folder (an image generator is a folder with config.json and model.safetensors)`);
    for (const name of ['config.json', 'model.safetensors']) {
      if (!entries.includes(name)) throw new CheckpointError(`'${dir}' has no ${name}`);
    }
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(await readFileText(`${dir}/config.json`)) as Record<string, unknown>;
    } catch (err) {
      throw new CheckpointError(`${dir}/config.json: not valid JSON (${(err as Error).message})`);
    }
    const generationConfig = await readGenerationConfigFile(dir, entries);
    const weights = await readFileBytes(`${dir}/model.safetensors`);
    const hasTokenizer = entries.includes('tokenizer.json') || (entries.includes('vocab.json') && entries.includes('merges.txt'));
    const tokenizer = hasTokenizer ? await loadGpt2Tokenizer(dir) : undefined;
    return ImageGenerator.fromBuffers(gpu, { config, generationConfig, weights, tokenizer, source: `${dir}/model.safetensors` }, options);
  }

  /** Browser or Node: a generator from bytes already in memory. */
  static async fromBuffers(gpu: Gpu, buffers: ImageGenBuffers, options: LoadOptions = {}): Promise<ImageGenerator> {
    const source = buffers.source ?? 'model.safetensors';
    // Everything is checked before the weights go to the GPU.
    const type = buffers.config.model_type;
    if (type !== 'gpt2' && type !== 'llama') throw new CheckpointError(`config.json: model_type ${JSON.stringify(type)} is not supported by the image generator (gpt2, llama)`);
    const lmConfig = type === 'gpt2' ? gpt2Config(buffers.config) : llamaConfig(buffers.config);
    const config = imageGenConfig(buffers.config, lmConfig);
    const { imageTokenCount: k, patchSize: p } = config;
    const file = parseSafetensors(buffers.weights, source);
    if (!file.has(CODEBOOK_TENSOR)) throw new CheckpointError(`${source}: no tensor '${CODEBOOK_TENSOR}' (U8 [${k}, ${p}, ${p}, 3]: the RGB patch of each image token)`);
    const entry = file.entry(CODEBOOK_TENSOR);
    const shape = entry.shape;
    if (shape.length !== 4 || shape[0] !== k || shape[1] !== p || shape[2] !== p || shape[3] !== 3) {
      throw new CheckpointError(`${source}: tensor '${CODEBOOK_TENSOR}' has shape [${shape.join(', ')}], expected [${k}, ${p}, ${p}, 3] (image_token_count, patch_size, patch_size, RGB)`);
    }
    if (entry.dtype !== 'U8') throw new CheckpointError(`${source}: tensor '${CODEBOOK_TENSOR}' is ${entry.dtype}, expected U8 (RGB bytes 0..255)`);
    const tokenizer = buffers.tokenizer;
    if (tokenizer && tokenizer.vocabSize > lmConfig.vocabSize) {
      throw new CheckpointError(`the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${lmConfig.vocabSize}`);
    }
    const lm = await LanguageModel.fromBuffers(gpu, { ...buffers, source }, { ...options, onWarning: () => {}, ignoreTensors: [...(options.ignoreTensors ?? []), CODEBOOK_TENSOR] });
    try {
      const warning = imageGenerationWarning(lm.generationConfig);
      if (warning) (options.onWarning ?? console.warn)(warning);
      return new ImageGenerator(lm, config, file.raw(CODEBOOK_TENSOR));
    } catch (err) {
      lm.destroy();
      throw err;
    }
  }

  /** The image's size in pixels before up-sampling. */
  get width(): number {
    return this.config.gridWidth * this.config.patchSize;
  }

  get height(): number {
    return this.config.gridHeight * this.config.patchSize;
  }

  /** The image tokens' vocabulary ids, start ≤ id < end. */
  get imageTokens(): TokenRange {
    return { start: this.config.imageTokenStart, end: this.config.imageTokenStart + this.config.imageTokenCount };
  }

  /** The ids the image is generated after: [BOS] text [IMAGE_START]. Text is encoded; ids are taken as they are. */
  promptIds(prompt: string | readonly number[]): number[] {
    let text: number[];
    if (typeof prompt === 'string') {
      if (!this.lm.tokenizer) throw new Error('ImageGenerator: this checkpoint has no tokenizer (vocab.json + merges.txt or tokenizer.json); give the prompt as token ids');
      text = this.lm.tokenizer.encode(prompt);
    } else {
      text = [...prompt];
    }
    const { start, end } = this.imageTokens;
    text.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.lm.config.vocabSize) throw new ShapeError(`prompt token ${i} (${id}) is not in the vocabulary [0, ${this.lm.config.vocabSize})`);
      if (id >= start && id < end) throw new ShapeError(`prompt token ${i} (${id}) is an image token (${start} .. ${end - 1}); a prompt is text`);
    });
    const { bosTokenId, imageStartTokenId } = this.config;
    const ids = [...(bosTokenId === undefined ? [] : [bosTokenId]), ...text, imageStartTokenId];
    const total = ids.length + this.config.gridHeight * this.config.gridWidth;
    if (total > this.lm.maxContext) {
      throw new LimitError(`ImageGenerator: the prompt (${ids.length} tokens with BOS and image start) and the ${this.config.gridHeight}×${this.config.gridWidth} grid need ${total} tokens, more than the context of ${this.lm.maxContext}`);
    }
    return ids;
  }

  /**
   * How a call with these options chooses its tokens: the options over the generation config's
   * do_sample, temperature, top_k (at most the image tokens; 0 = all) and top_p.
   */
  sampling(options: Pick<ImageTokenOptions, 'doSample' | 'temperature' | 'topK' | 'topP'> = {}): SamplingSettings {
    const s = resolveSampling(this.lm.generationConfig, options);
    return { ...s, topK: Math.min(s.topK, this.config.imageTokenCount) };
  }

  /** Generate the grid: H·W image-token ids in raster order (row 0 first). */
  generateTokens(prompt: string | readonly number[], options: ImageTokenOptions = {}): Promise<Int32Array> {
    return this.queue.run(() => this.generateGrid(prompt, options));
  }

  private async generateGrid(prompt: string | readonly number[], options: ImageTokenOptions): Promise<Int32Array> {
    const ids = this.promptIds(prompt);
    const { gridHeight: h, gridWidth: w } = this.config;
    const scale = options.guidanceScale ?? this.config.guidanceScale;
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new RangeError(`ImageGenerator: guidanceScale must be a number ≥ 0, got ${scale}`);
    const tokens = new Int32Array(h * w);
    let index = 0;
    const s = this.sampling(options);
    // Decoding stays among the image tokens; guidance runs the empty prompt beside this one (scale 1 is none).
    const processors: LogitsProcessor[] = [allowedTokens(this.imageTokens)];
    if (scale !== 1) processors.push(classifierFreeGuidance(scale, this.promptIds([])));
    // The grid decides the length: no min length, EOS, bad words or forced EOS from the config.
    const stream = this.lm.generate(ids, {
      maxNewTokens: h * w,
      minNewTokens: 0,
      eosTokenIds: [],
      badWordsIds: [],
      forcedEosTokenIds: [],
      doSample: s.sample,
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      seed: options.seed,
      logitsProcessors: processors,
    });
    for await (const { id } of stream) {
      tokens[index] = id;
      options.onToken?.(index, Math.floor(index / w), index % w, id);
      index++;
    }
    if (index !== h * w) throw new Error(`ImageGenerator: generation stopped after ${index} of ${h * w} image tokens`);
    return tokens;
  }

  /**
   * The picture of a token grid (H·W vocabulary ids, raster order) on the GPU: codebook patches,
   * then up-sampled. Ids that are not image tokens (−1 for cells not generated yet) are transparent.
   */
  render(tokens: ArrayLike<number>, options: RenderOptions = {}): Promise<RenderedImage> {
    return this.queue.run(() => this.renderGrid(tokens, options));
  }

  private async renderGrid(tokens: ArrayLike<number>, options: RenderOptions): Promise<RenderedImage> {
    const { gridHeight: h, gridWidth: w } = this.config;
    const scale = options.scale ?? 1;
    if (tokens.length !== h * w) throw new ShapeError(`ImageGenerator.render: got ${tokens.length} tokens, expected ${h}×${w} = ${h * w}`);
    if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`ImageGenerator.render: scale must be a positive integer, got ${scale}`);
    const mode = options.upsample ?? 'nearest';
    if (mode !== 'nearest' && mode !== 'bilinear') throw new RangeError(`ImageGenerator.render: upsample must be 'nearest' or 'bilinear', got ${JSON.stringify(mode)}`);
    const gpu = this.lm.gpu;
    const owned: Tensor[] = [];
    try {
      const grid = gpu.upload(Int32Array.from(tokens), [h, w], 'i32');
      owned.push(grid);
      let image = detokenize(gpu, grid, this.codebook, this.config.imageTokenStart);
      owned.push(image);
      if (scale > 1) {
        image = upsample(gpu, image, scale, mode);
        owned.push(image);
      }
      const pixels = (await image.download()) as Uint32Array;
      return { width: this.width * scale, height: this.height * scale, data: new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength) };
    } finally {
      for (const t of owned) t.destroy();
    }
  }

  /** Prompt → tokens → picture, in one turn. */
  imagine(prompt: string | readonly number[], options: ImageTokenOptions & RenderOptions = {}): Promise<{ tokens: Int32Array; image: RenderedImage }> {
    return this.queue.run(async () => {
      const tokens = await this.generateGrid(prompt, options);
      return { tokens, image: await this.renderGrid(tokens, options) };
    });
  }

  /** Reject queued and later calls; free the model, its graphs and the codebook once the running call ends. */
  destroy(): void {
    void this.queue.close(() => {
      this.codebook.destroy();
      this.lm.destroy();
    });
  }
}

/**
 * The one warning about the generation keys an image generator ignores: those LanguageModel does
 * not implement, and those the grid makes moot (its length, EOS bans and forced EOS, bad words).
 */
function imageGenerationWarning(g: GenerationConfig): string | null {
  const lm = generationWarning(g);
  const moot = [
    g.maxNewTokens !== null && 'max_new_tokens',
    (g.minNewTokens ?? 0) > 0 && 'min_new_tokens',
    g.minLength > 0 && 'min_length',
    g.badWordsIds.length > 0 && 'bad_words_ids',
    (g.forcedEosIds ?? []).length > 0 && 'forced_eos_token_id',
  ].filter((k): k is string => typeof k === 'string').map((k) => `'${k}'`);
  const parts = [lm, moot.length > 0 && `${g.source}: ${moot.join(', ')} ${moot.length > 1 ? 'do' : 'does'} not apply to an image generator (the grid decides the length; decoding is constrained to the image tokens) and ${moot.length > 1 ? 'are' : 'is'} ignored`];
  return parts.filter(Boolean).join('\n') || null;
}
