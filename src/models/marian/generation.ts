/**
 * A Marian checkpoint's generation defaults, resolved as Hugging Face resolves them for
 * `MarianMTModel.from_pretrained(folder).generate(...)` (transformers 4.40–4.45; see search.ts):
 *
 *  - `generation_config.json`, when the folder has one, is the whole generation config: the
 *    generation keys of `config.json` are then ignored (GenerationConfig.from_pretrained);
 *  - without it, `config.json`'s keys count, over MarianConfig's own defaults
 *    (`forced_eos_token_id` 0; a missing `decoder_start_token_id` is taken to be the pad id, which
 *    MarianConfig's default 58100 is for OPUS-MT) and GenerationConfig's (`max_length` 20,
 *    `num_beams` 1, …);
 *  - `max_new_tokens` overrides `max_length`, `min_new_tokens` overrides `min_length` (the
 *    decoder prompt is the start token alone, so max_length = 1 + max_new_tokens);
 *  - the decoder starts with `decoder_start_token_id`, else `bos_token_id`; the pad fed to finished
 *    rows is `pad_token_id`, else the first EOS id; a bad word that is a single EOS id is dropped
 *    (NoBadWordsLogitsProcessor).
 *
 * The model's own structure (the source padding id, the vocabulary) stays with `config.json`.
 */

import { checkGenerationIds, generationConfigOf } from '../generation-config.ts';
import { CheckpointError } from '../errors.ts';
import type { MarianConfig } from './config.ts';

type Json = Record<string, unknown>;

export interface MarianGeneration {
  /** The file the defaults came from: 'generation_config.json' or 'config.json'. */
  source: string;
  numBeams: number;
  /** Tokens to generate at most, EOS included: max_new_tokens, else max_length − 1 (the start token); at most the model's positions. */
  maxNewTokens: number;
  /** EOS is banned until this many tokens are generated: min_new_tokens, else min_length − 1. */
  minNewTokens: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** Every id that ends a translation; empty when the config names none (then only the length ends one). */
  eosIds: number[];
  /** Fed to finished rows. */
  padId: number;
  decoderStartId: number;
  /** bad_words_ids, without the words that are a single EOS id. */
  badWordsIds: number[][];
  /** forced_eos_token_id: scored 0 at the last position, everything else −inf; empty: off. */
  forcedEosIds: number[];
  renormalizeLogits: boolean;
  /** Keys set in the file that Tessera's Marian does not implement; their defaults are used (one warning at load names them). */
  ignored: string[];
}

/**
 * The generation defaults of a Marian model whose `config.json` parsed to `c` (`configJson`),
 * with `generationJson` the parsed `generation_config.json` or null when the folder has none.
 * Ids outside the vocabulary and a config that leaves nothing to generate are refused, naming the
 * file and the key.
 */
export function marianGeneration(c: MarianConfig, configJson: Json, generationJson: Json | null | undefined): MarianGeneration {
  const g = generationConfigOf(configJson, generationJson);
  const fromConfig = g.source === 'config.json';
  const json = fromConfig ? configJson : generationJson!;
  let forcedEosIds = g.forcedEosIds ?? (g.forcedEosId === null ? [] : [g.forcedEosId]);
  // MarianConfig's default forced_eos_token_id (0) reaches the generation config through from_model_config.
  if (fromConfig && !('forced_eos_token_id' in configJson)) forcedEosIds = [0];
  checkGenerationIds({ ...g, forcedEosIds, forcedEosId: forcedEosIds[0] ?? null }, c.decoderVocabSize);

  const decoderStartId = g.decoderStartId ?? g.bosId ?? (fromConfig ? c.padId : null);
  if (decoderStartId === null) {
    throw new CheckpointError(`${g.source}: neither 'decoder_start_token_id' nor 'bos_token_id' is set; an encoder-decoder needs one to start decoding (Marian models start with the pad id)`);
  }
  const renormalize = json.renormalize_logits ?? false;
  if (typeof renormalize !== 'boolean') throw new CheckpointError(`${g.source}: 'renormalize_logits' must be true or false, got ${JSON.stringify(renormalize)}`);

  const maxLength = g.maxNewTokens !== null ? 1 + g.maxNewTokens : g.maxLength;
  const key = g.maxNewTokens !== null ? 'max_new_tokens' : 'max_length';
  if (maxLength < 2) throw new CheckpointError(`${g.source}: '${key}' ${key === 'max_length' ? maxLength : maxLength - 1} leaves no token to generate (max_length counts the decoder start token)`);
  const minLength = g.minNewTokens !== null ? 1 + g.minNewTokens : g.minLength;

  const ignored = g.unsupported.filter((k) => k !== 'renormalize_logits');
  if (g.doSample) ignored.push('do_sample');
  return {
    source: g.source,
    numBeams: g.numBeams,
    // HF would fail past the last position; Tessera stops there.
    maxNewTokens: Math.min(maxLength - 1, c.maxPositions),
    minNewTokens: Math.max(0, minLength - 1),
    lengthPenalty: g.lengthPenalty,
    earlyStopping: g.earlyStopping,
    eosIds: g.eosIds,
    padId: g.padId ?? g.eosIds[0] ?? c.padId,
    decoderStartId,
    badWordsIds: g.badWordsIds.filter((w) => !(w.length === 1 && g.eosIds.includes(w[0]!))),
    forcedEosIds,
    renormalizeLogits: renormalize,
    ignored,
  };
}

/** The one warning for the keys a model ignores, or null when it ignores none. */
export function ignoredKeysWarning(g: MarianGeneration): string | null {
  if (g.ignored.length === 0) return null;
  const sampling = g.ignored.includes('do_sample') ? ' (Marian translates with greedy or beam search, never by sampling)' : '';
  return `${g.source}: ${g.ignored.map((k) => `'${k}'`).join(', ')} ${g.ignored.length > 1 ? 'are' : 'is'} not implemented by Tessera's Marian and ignored${sampling}; their defaults are used`;
}
