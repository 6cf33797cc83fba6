/**
 * generate()'s options, and the plan they make over the model's generation config: Hugging
 * Face's generate(**kwargs) for a decoder-only model, where each option overrides one key of
 * `model.generation_config`.
 */

import type { GenerationConfig } from '../generation-config.ts';
import type { LogitsProcessor } from './logits-processor.ts';
import { resolveSampling, type SamplingSettings } from './sampling.ts';

/**
 * Each option overrides the model's generation config (`lm.generationConfig`), as HF's
 * generate(**kwargs) overrides `model.generation_config`.
 */
export interface GenerateOptions {
  /**
   * Tokens to generate at most. Default: the generation config's max_new_tokens, else its
   * max_length minus the prompt (HF counts the prompt in max_length, whose default is 20; at least
   * one token, as in HF); llama2.c checkpoints: 256. Generation also ends at the end of the context.
   */
  maxNewTokens?: number;
  /** Every EOS id is banned until this many tokens are generated. Default: min_new_tokens, else min_length minus the prompt. */
  minNewTokens?: number;
  /**
   * Sample (true) or decode greedily (false). Default: true when `temperature` is given above 0,
   * false when it is 0, else the generation config's do_sample. A temperature of 0 is always greedy.
   */
  doSample?: boolean;
  /** When sampling: softmax(logits / temperature); 0 is greedy decoding (on the GPU). Default: the generation config's (HF: 1). */
  temperature?: number;
  /**
   * When sampling: among the k most likely tokens (on the GPU up to 128, else on the host); 0 = all.
   * Default: the generation config's top_k (HF: 50), at most the vocabulary.
   */
  topK?: number;
  /** When sampling: from the smallest set of most likely tokens whose probability reaches topP (1 = all). Default: the generation config's top_p. */
  topP?: number;
  /**
   * Token sequences never to generate (HF `bad_words_ids`): a one-token word is banned everywhere;
   * a longer one bans its last token right after the rest of it (prompt included). A word that is
   * a single EOS id is dropped, as in HF. Default: the generation config's.
   */
  badWordsIds?: readonly (readonly number[])[];
  /** The ids that end generation (HF `eos_token_id`); default: the generation config's. `stop` adds more. */
  eosTokenIds?: readonly number[];
  /**
   * Forced as the last token when generation runs to its length (HF `forced_eos_token_id`: at
   * max_length, or here also at the end of the context); [] turns it off. Default: the generation config's.
   */
  forcedEosTokenIds?: readonly number[];
  /** Seed of the sampler: the same seed, prompt and options give the same tokens. */
  seed?: number;
  /**
   * More ids or strings that end generation, besides the EOS ids (llama2.c: BOS). A stop or EOS
   * id is not yielded; the token that completes a stop string is, and then generation ends.
   */
  stop?: string | number | readonly (string | number)[];
  /**
   * Choose only among the ids start ≤ id < end (e.g. an image generator's image tokens): every
   * other logit is pushed to −1e30 on the GPU before greedy argmax, top-k or sampling.
   */
  allowedTokens?: TokenRange;
  /**
   * Classifier-free guidance: each step chooses from u + scale·(c − u), where c are the logits after
   * the prompt and u those after `unconditional` (for an image generator, the empty prompt it was
   * trained with). The second sequence runs on a twin that shares the weights and has its own KV
   * cache; both are continued with the chosen tokens and their decode steps are submitted together.
   * Scale 1 is plain decoding; top-k and greedy are then taken on the host.
   */
  guidance?: { scale: number; unconditional: readonly number[] };
  /**
   * Advanced: more logits processors (lm/logits-processor.ts), applied after those the options
   * make, as HF's `logits_processor` argument. The image generator passes its allowed image tokens
   * and its guidance this way; the caller checks their arguments.
   */
  logitsProcessors?: readonly LogitsProcessor[];
}

/** Token ids start ≤ id < end. */
export interface TokenRange {
  start: number;
  end: number;
}

export interface GeneratedToken {
  id: number;
  /** The text this token adds (may be '' while a multi-byte character is unfinished). */
  text: string;
}

/** One generation's length, bans and sampling, checked against the vocabulary. */
export interface GenerationPlan {
  maxNew: number;
  minNew: number;
  /** The ids that end generation (and are banned until minNew tokens are out). */
  eos: number[];
  /** HF's bad_words_ids, but a word that is a single EOS id. */
  badWords: readonly (readonly number[])[];
  /** Forced as the last token when generation runs to its length; [] for none. */
  forced: number[];
  sampling: SamplingSettings;
}

/** What generate() makes of its options over the generation config `g` (vocabulary V), checked. */
export function generationPlan(g: GenerationConfig, V: number, promptLength: number, o: GenerateOptions): GenerationPlan {
  const count = (name: string, value: number | undefined) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new RangeError(`generate: ${name} must be a non-negative integer, got ${value}`);
    return value;
  };
  const tokenIds = (name: string, list: readonly number[]): number[] => {
    for (const id of list) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`generate: ${name} holds ${id}, which is not in the model's vocabulary [0, ${V})`);
    return [...list];
  };
  let maxNew = count('maxNewTokens', o.maxNewTokens) ?? g.maxNewTokens;
  let forcedAtLength = true;
  if (maxNew === null) {
    // HF counts the prompt in max_length, and generates one token even when the prompt reaches
    // it (then cur_len is past max_length − 1, so no forced EOS).
    maxNew = Math.max(1, g.maxLength - promptLength);
    forcedAtLength = promptLength < g.maxLength;
  }
  const minNew = count('minNewTokens', o.minNewTokens) ?? g.minNewTokens ?? Math.max(0, g.minLength - promptLength);
  const eos = tokenIds('eosTokenIds', o.eosTokenIds ?? g.eosIds);
  const words = o.badWordsIds ?? g.badWordsIds;
  for (const word of words) {
    if (!Array.isArray(word) || word.length === 0) throw new RangeError(`generate: badWordsIds must be non-empty lists of token ids, got ${JSON.stringify(word)}`);
    tokenIds('badWordsIds', word);
  }
  // HF's NoBadWordsLogitsProcessor drops a word that is a single EOS id.
  const kept = words.filter((w) => !(w.length === 1 && eos.includes(w[0]!)));
  const forced = forcedAtLength ? tokenIds('forcedEosTokenIds', o.forcedEosTokenIds ?? g.forcedEosIds ?? (g.forcedEosId === null ? [] : [g.forcedEosId])) : [];

  const { temperature, topK, topP } = o;
  if (temperature !== undefined && !(temperature >= 0 && Number.isFinite(temperature))) throw new RangeError(`generate: temperature must be ≥ 0, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 0 || topK > V)) throw new RangeError(`generate: topK must be 0 (all tokens) or an integer in [1, ${V}], got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new RangeError(`generate: topP must be in (0, 1], got ${topP}`);
  const sampling = resolveSampling(g, o);
  if (sampling.sample) {
    if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new RangeError(`${g.source}: 'top_p' must be in (0, 1] to sample, got ${sampling.topP}`);
    sampling.topK = Math.min(sampling.topK, V); // HF's TopKLogitsWarper keeps at most the vocabulary
  }
  return {
    maxNew,
    minNew,
    eos,
    badWords: kept,
    forced,
    sampling,
  };
}

/** The one warning about the generation keys LanguageModel ignores, or null when it ignores none. */
export function generationWarning(g: GenerationConfig): string | null {
  // renormalize_logits log-softmaxes the processed scores, which changes no greedy or sampled token.
  const keys = g.unsupported.filter((k) => k !== 'renormalize_logits').map((k) => `'${k}'`);
  if (g.numBeams > 1) keys.push(`'num_beams' (${g.numBeams}: there is no beam search; it decodes one sequence, greedily or by sampling)`);
  if (keys.length === 0) return null;
  return `${g.source}: ${keys.join(', ')} ${keys.length > 1 ? 'are' : 'is'} not implemented by Tessera's LanguageModel and ignored; their defaults are used`;
}
