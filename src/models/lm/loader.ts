/**
 * From files or bytes to what a LanguageModel is made of: its config, its family (GPT-2 or
 * Llama), its weights as host tensors, its tokenizer and its generation config. A Hugging Face
 * folder (config.json + model.safetensors and tokenizer files), a llama2.c `.bin` checkpoint, or
 * a folder holding one `.bin` model and its `tok*.bin` tokenizer.
 */

import { loadExpectedTensors, type HostTensor } from '../checkpoint.ts';
import type { LmConfig, ModelFamily } from '../decoder.ts';
import { CheckpointError } from '../errors.ts';
import { checkGenerationIds, generationConfigOf, readGenerationConfigFile, type GenerationConfig } from '../generation-config.ts';
import { gpt2, gpt2Config } from '../gpt2.ts';
import { listDirectory, readFileBytes, readFileText } from '../io.ts';
import { llama, llama2cLmConfig, llamaConfig } from '../llama.ts';
import { parseLlama2c } from '../llama2c.ts';
import { parseSafetensors } from '../safetensors.ts';
import { loadGpt2Tokenizer } from '../tokenizers/gpt2.ts';
import { parseLlama2cTokenizer } from '../tokenizers/llama2c.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { generationWarning } from './options.ts';

export interface LoadOptions {
  /** KV-cache length in tokens (default and at most: the model's context length). */
  maxContext?: number;
  /** Profile the first prefill chunk and the first decode step of each call, for `profileTable()`. */
  profile?: boolean;
  /** Names of stored tensors that are not the Transformer's (e.g. an image generator's `codebook`): not loaded, not an error. */
  ignoreTensors?: readonly string[];
  /**
   * Decode a small Llama model with one kernel per token (llamaDecodeStep), when it fits that
   * kernel's limits (default true); false keeps the per-layer decode graph.
   */
  fusedDecode?: boolean;
  /**
   * Told once, at load, when the generation config sets keys Tessera does not implement (e.g.
   * `repetition_penalty`, or `num_beams` > 1: LanguageModel has no beam search): the message names
   * them and says their defaults are used. Default: console.warn.
   */
  onWarning?: (message: string) => void;
}

export interface ModelBuffers {
  /** A Hugging Face `config.json` (parsed) with `model.safetensors` bytes; absent for a llama2.c `.bin`. */
  config?: Record<string, unknown>;
  /** The folder's `generation_config.json` (parsed), when it has one; then config.json's generation keys are not used. */
  generationConfig?: Record<string, unknown> | null;
  weights: ArrayBuffer | ArrayBufferView;
  tokenizer?: Tokenizer;
  /** Named in error messages. */
  source?: string;
}

/** A checkpoint read and checked, its weights prepared for the family's graphs. */
export interface Checkpoint {
  config: LmConfig;
  family: ModelFamily;
  weights: Map<string, HostTensor>;
  generation: GenerationConfig;
}

/** Node: the bytes of a model folder or llama2.c file, as `LanguageModel.load` takes it. */
export async function readModelFiles(path: string): Promise<ModelBuffers> {
  const folder = path.replace(/[\\/]+$/, '');
  const entries = await listDirectory(folder);
  if (entries === null) {
    // A llama2.c checkpoint file; its tokenizer may sit next to it.
    const slash = Math.max(folder.lastIndexOf('/'), folder.lastIndexOf('\\'));
    const dir = slash >= 0 ? folder.slice(0, slash) || '/' : '.';
    return readLlama2c(folder, dir, (await listDirectory(dir)) ?? []);
  }
  const file = (name: string) => `${folder}/${name}`;
  if (entries.includes('config.json')) {
    if (!entries.includes('model.safetensors')) throw new CheckpointError(`'${folder}' has a config.json but no model.safetensors`);
    const config = JSON.parse(await readFileText(file('config.json'))) as Record<string, unknown>;
    const generationConfig = await readGenerationConfigFile(folder, entries);
    const weights = await readFileBytes(file('model.safetensors'));
    const tokenizer = await findTokenizer(folder, entries, config);
    return { config, generationConfig, weights, tokenizer, source: file('model.safetensors') };
  }
  const models = entries.filter((e) => e.endsWith('.bin') && !isTokenizerFile(e));
  if (models.length !== 1) {
    throw new CheckpointError(
      `'${folder}' holds no config.json and ${models.length} llama2.c model files (.bin other than tok*.bin): ${models.join(', ') || 'none'}; pass the model file itself`,
    );
  }
  return readLlama2c(file(models[0]!), folder, entries);
}

async function readLlama2c(path: string, dir: string, entries: readonly string[]): Promise<ModelBuffers> {
  const weights = await readFileBytes(path);
  const tokenizerFile = entries.filter(isTokenizerFile).sort()[0];
  let tokenizer: Tokenizer | undefined;
  if (tokenizerFile) {
    const vocabSize = Math.abs(new DataView(weights.buffer, weights.byteOffset, 28).getInt32(20, true));
    tokenizer = parseLlama2cTokenizer(await readFileBytes(`${dir}/${tokenizerFile}`), vocabSize, `${dir}/${tokenizerFile}`);
  }
  return { weights, tokenizer, source: path };
}

/**
 * Parse and check a checkpoint's bytes; the generation keys LanguageModel does not implement are
 * told to `options.onWarning` (default console.warn).
 */
export function readCheckpoint(buffers: ModelBuffers, options: LoadOptions): Checkpoint {
  let config: LmConfig;
  let tensors: Map<string, HostTensor>;
  let family: ModelFamily;
  let generation: GenerationConfig;
  if (buffers.config) {
    const type = buffers.config.model_type;
    if (type === 'gpt2') [config, family] = [gpt2Config(buffers.config), gpt2];
    else if (type === 'llama') [config, family] = [llamaConfig(buffers.config), llama];
    else throw new CheckpointError(`config.json: model_type ${JSON.stringify(type)} is not supported (gpt2, llama)`);
    generation = lmGenerationConfig(config, buffers.config, buffers.generationConfig);
    const file = parseSafetensors(buffers.weights, buffers.source ?? 'model.safetensors');
    const ignore = [...(family.matchOptions.ignore ?? []), ...(options.ignoreTensors ?? [])];
    tensors = loadExpectedTensors(file, family.expected(config), { ...family.matchOptions, ignore });
  } else {
    const checkpoint = parseLlama2c(buffers.weights, buffers.source ?? 'model.bin');
    [config, family] = [llama2cLmConfig(checkpoint.config), llama];
    tensors = loadExpectedTensors(checkpoint, family.expected(config));
    generation = llama2cGenerationConfig(config);
  }
  const warning = generationWarning(generation);
  if (warning) (options.onWarning ?? console.warn)(warning);
  return { config, family, weights: family.prepare(config, tensors), generation };
}

function isTokenizerFile(name: string): boolean {
  return /^tok.*\.bin$/.test(name);
}

/** The tokenizer files of a Hugging Face folder, if any: GPT-2-style BPE files, or a llama2.c tok*.bin. */
async function findTokenizer(folder: string, entries: readonly string[], config: Record<string, unknown>): Promise<Tokenizer | undefined> {
  const has = (...names: string[]) => names.every((n) => entries.includes(n));
  if (has('tokenizer.json') || has('vocab.json', 'merges.txt') || has('encoder.json', 'vocab.bpe')) {
    const tokenizer = await loadGpt2Tokenizer(folder).catch((err: Error) => {
      // e.g. a SentencePiece tokenizer.json: the model still runs on token ids
      if (err.name === 'TokenizerError') return undefined;
      throw err;
    });
    if (tokenizer) return tokenizer;
  }
  const bin = entries.filter(isTokenizerFile).sort()[0];
  if (bin) return parseLlama2cTokenizer(await readFileBytes(`${folder}/${bin}`), config.vocab_size as number | undefined, `${folder}/${bin}`);
  return undefined;
}

type Json = Record<string, unknown>;

/**
 * A Hugging Face checkpoint's generation config, for LanguageModel. With a generation_config.json
 * it is that file alone, and every id it names must be in the vocabulary. Without one it is
 * config.json's keys over HF's defaults, where a missing eos_token_id is the model class's
 * default (GPT2Config 50256, LlamaConfig 2: LmConfig.stopIds) and the special ids past the
 * vocabulary are dropped, as the model config has always been read (a config saved from
 * GPT2Config's defaults names 50256 whatever its vocabulary).
 */
function lmGenerationConfig(config: LmConfig, json: Json, generationJson: Json | null | undefined): GenerationConfig {
  const g = generationConfigOf(json, generationJson);
  if (g.source === 'config.json') {
    const inVocabulary = (id: number | null) => (id !== null && id < config.vocabSize ? id : null);
    g.eosIds = 'eos_token_id' in json ? g.eosIds.filter((id) => id < config.vocabSize) : [...config.stopIds];
    g.padId = inVocabulary(g.padId);
    g.bosId = inVocabulary(g.bosId);
    g.decoderStartId = inVocabulary(g.decoderStartId);
  }
  checkGenerationIds(g, config.vocabSize);
  if (g.maxNewTokens === 0) throw new CheckpointError(`${g.source}: 'max_new_tokens' must be at least 1 (as HF's GenerationConfig requires), got 0`);
  return g;
}

/** A llama2.c checkpoint has no generation config: Tessera's defaults, after run.c (256 steps, stop at BOS), greedy. */
function llama2cGenerationConfig(config: LmConfig): GenerationConfig {
  return {
    source: 'llama2.c defaults (256 new tokens, greedy, stop at BOS)',
    maxLength: config.contextLength,
    maxNewTokens: 256,
    minLength: 0,
    minNewTokens: null,
    numBeams: 1,
    lengthPenalty: 1,
    earlyStopping: false,
    doSample: false,
    temperature: 1,
    topK: 0,
    topP: 1,
    eosIds: [...config.stopIds],
    padId: null,
    bosId: config.bos ?? null,
    decoderStartId: null,
    badWordsIds: [],
    forcedEosId: null,
    forcedEosIds: [],
    unsupported: [],
  };
}
