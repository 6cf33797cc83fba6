/**
 * A checkpoint's generation defaults, read as Hugging Face's `GenerationConfig` reads them.
 *
 * `from_pretrained` takes `generation_config.json` when the folder has one, and then ignores the
 * generation keys of `config.json`; without it, `GenerationConfig.from_model_config` takes the
 * same keys from `config.json`. Keys that neither file sets get HF's class defaults (max_length
 * 20, num_beams 1, do_sample false, temperature 1, top_k 50, top_p 1, …). Each model reads the
 * fields it implements from the result; keys with a non-default value that Tessera does not
 * implement are listed in `unsupported`, so a caller can say they are ignored.
 */

import { CheckpointError, jsonForMessage } from './errors.ts';
import { readFileText } from './io.ts';

export interface GenerationConfig {
  /** The file the values came from: 'generation_config.json' or 'config.json'. */
  source: string;
  /** Longest sequence: for a decoder-only model prompt + new tokens, for an encoder-decoder the decoder start token + new tokens. */
  maxLength: number;
  /** Overrides maxLength when set: tokens to generate, besides the prompt. */
  maxNewTokens: number | null;
  /** EOS is banned while the sequence is shorter than this (counted like maxLength). */
  minLength: number;
  /** EOS is banned until this many tokens have been generated; overrides minLength when set. */
  minNewTokens: number | null;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  /** Every id that ends a sequence (HF accepts one id or a list). */
  eosIds: number[];
  padId: number | null;
  bosId: number | null;
  decoderStartId: number | null;
  /** Token sequences never generated (`bad_words_ids`). */
  badWordsIds: number[][];
  /** Forced as the last token when a sequence reaches maxLength (the first of forcedEosIds). */
  forcedEosId: number | null;
  /** Every id `forced_eos_token_id` names (HF accepts one id or a list; each gets score 0 at the last position, the rest −inf); always set by parseGenerationConfig. */
  forcedEosIds?: number[];
  /** Keys with values Tessera does not implement (e.g. `repetition_penalty` 1.2); their defaults are used instead. */
  unsupported: string[];
}

type Json = Record<string, unknown>;

/** HF's `GenerationConfig.__init__` defaults for the keys Tessera implements. */
const DEFAULTS = {
  max_length: 20,
  min_length: 0,
  num_beams: 1,
  length_penalty: 1.0,
  early_stopping: false,
  do_sample: false,
  temperature: 1.0,
  top_k: 50,
  top_p: 1.0,
};

/** Keys Tessera leaves at their default; a checkpoint that sets them otherwise is told so. */
const NOT_IMPLEMENTED: Record<string, unknown> = {
  repetition_penalty: 1.0,
  no_repeat_ngram_size: 0,
  encoder_no_repeat_ngram_size: 0,
  num_return_sequences: 1,
  num_beam_groups: 1,
  diversity_penalty: 0.0,
  typical_p: 1.0,
  epsilon_cutoff: 0.0,
  eta_cutoff: 0.0,
  min_p: null,
  penalty_alpha: null,
  forced_bos_token_id: null,
  suppress_tokens: null,
  begin_suppress_tokens: null,
  exponential_decay_length_penalty: null,
  sequence_bias: null,
  force_words_ids: null,
  constraints: null,
  renormalize_logits: false,
  max_time: null,
  stop_strings: null,
};

function fail(source: string, key: string, want: string, value: unknown): never {
  throw new CheckpointError(`${source}: '${key}' must be ${want}, got ${jsonForMessage(value)}`);
}

function integer(json: Json, source: string, key: string, min: number): number | null {
  const value = json[key];
  if (value == null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(source, key, `an integer ≥ ${min}`, value);
  return value;
}

function finite(json: Json, source: string, key: string, fallback: number, min = -Infinity): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(source, key, min > -Infinity ? `a finite number ≥ ${min}` : 'a finite number', value);
  return value;
}

function tokenIds(json: Json, source: string, key: string): number[] {
  const value = json[key];
  if (value == null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((t) => Number.isInteger(t) && t >= 0)) fail(source, key, 'a token id or a list of token ids', value);
  return list as number[];
}

/**
 * One generation config from the parsed JSON of `generation_config.json` (`source` names it) or,
 * when the folder has none, of `config.json`.
 */
export function parseGenerationConfig(json: Json, source: string): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(`${source}: expected a JSON object`);
  const early = json.early_stopping ?? DEFAULTS.early_stopping;
  if (early !== true && early !== false && early !== 'never') fail(source, 'early_stopping', 'true, false or "never"', early);
  const doSample = json.do_sample ?? DEFAULTS.do_sample;
  if (typeof doSample !== 'boolean') fail(source, 'do_sample', 'true or false', doSample);
  const badWords = json.bad_words_ids ?? [];
  if (!Array.isArray(badWords) || !badWords.every((w) => Array.isArray(w) && w.length > 0 && w.every((t) => Number.isInteger(t) && t >= 0))) {
    fail(source, 'bad_words_ids', 'a list of non-empty lists of token ids', badWords);
  }
  const id = (key: string) => integer(json, source, key, 0);
  const forcedEosIds = tokenIds(json, source, 'forced_eos_token_id');
  const unsupported = Object.entries(NOT_IMPLEMENTED)
    .filter(([key, standard]) => key in json && json[key] !== standard && json[key] !== null && !(Array.isArray(json[key]) && (json[key] as unknown[]).length === 0))
    .map(([key]) => key);
  return {
    source,
    maxLength: integer(json, source, 'max_length', 1) ?? DEFAULTS.max_length,
    maxNewTokens: integer(json, source, 'max_new_tokens', 0),
    minLength: integer(json, source, 'min_length', 0) ?? DEFAULTS.min_length,
    minNewTokens: integer(json, source, 'min_new_tokens', 0),
    numBeams: integer(json, source, 'num_beams', 1) ?? DEFAULTS.num_beams,
    lengthPenalty: finite(json, source, 'length_penalty', DEFAULTS.length_penalty),
    earlyStopping: early as boolean | 'never',
    doSample,
    temperature: finite(json, source, 'temperature', DEFAULTS.temperature, 0),
    topK: integer(json, source, 'top_k', 0) ?? DEFAULTS.top_k,
    topP: finite(json, source, 'top_p', DEFAULTS.top_p, 0),
    eosIds: tokenIds(json, source, 'eos_token_id'),
    padId: id('pad_token_id'),
    bosId: id('bos_token_id'),
    decoderStartId: id('decoder_start_token_id'),
    badWordsIds: badWords as number[][],
    forcedEosId: forcedEosIds[0] ?? null,
    forcedEosIds,
    unsupported,
  };
}

/**
 * The generation config of a checkpoint folder, as HF loads it: `generationConfig` is the parsed
 * `generation_config.json` when the folder has one, else null (then `config.json` supplies the keys).
 */
export function generationConfigOf(config: Json | undefined, generationConfig: Json | null | undefined): GenerationConfig {
  if (generationConfig) return parseGenerationConfig(generationConfig, 'generation_config.json');
  return parseGenerationConfig(config ?? {}, 'config.json');
}

/** Every id of `c` must index the vocabulary; a config that names an id past it is refused by name. */
export function checkGenerationIds(c: GenerationConfig, vocabSize: number): void {
  const check = (key: string, id: number | null) => {
    if (id !== null && id >= vocabSize) throw new CheckpointError(`${c.source}: '${key}' ${id} is outside the vocabulary of ${vocabSize}`);
  };
  for (const id of c.eosIds) check('eos_token_id', id);
  check('pad_token_id', c.padId);
  check('bos_token_id', c.bosId);
  check('decoder_start_token_id', c.decoderStartId);
  for (const id of c.forcedEosIds ?? (c.forcedEosId === null ? [] : [c.forcedEosId])) check('forced_eos_token_id', id);
  for (const word of c.badWordsIds) for (const id of word) check('bad_words_ids', id);
}

/** Node: the parsed `generation_config.json` of a folder whose file names are `entries`, or null when it has none. */
export async function readGenerationConfigFile(folder: string, entries: readonly string[]): Promise<Json | null> {
  if (!entries.includes('generation_config.json')) return null;
  const path = `${folder}/generation_config.json`;
  let json: unknown;
  try {
    json = JSON.parse(await readFileText(path));
  } catch (err) {
    throw new CheckpointError(`'${path}' is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CheckpointError(`'${path}': expected a JSON object`);
  return json as Json;
}
