/**
 * Logits processors: rules on each decode step's logits (Hugging Face's LogitsProcessor list),
 * each in up to two parts:
 *  - a GPU part, tokens masked at every step: MASKED_LOGIT is added to their logits on the GPU
 *    before argmax, top-k or the download, so greedy decoding and top-k sampling stay there;
 *  - a host part, which sees each step's logits on the host (argmax and top-k then run there
 *    too) and follows the chosen tokens.
 * generate() builds them from its options (the allowed tokens and bad words here, guidance in
 * guidance.ts) and appends those its caller brings (`logitsProcessors`: the image generator's).
 */

import type { TokenRange } from './options.ts';
import type { Sequence } from './sequence.ts';

/** What a masked-out logit becomes: far below any real logit, and still finite for every kernel. */
const MASKED_LOGIT = -1e30;

export interface LogitsProcessor {
  /** GPU part: only ids start ≤ id < end may be chosen. */
  readonly allowed?: TokenRange;
  /** GPU part: ids never chosen. */
  readonly banned?: readonly number[];
  readonly host?: HostLogitsProcessor;
}

export interface HostLogitsProcessor {
  /**
   * Called once the prompt is in `sequence`'s cache, before the first step; `masks[phase]` is the
   * GPU mask of each phase of the generation. Returns how many tokens it can follow at most.
   */
  start(sequence: Sequence, prompt: readonly number[], masks: readonly (LogitMask | null)[]): Promise<number>;
  /** One step's logits (under the mask of `phase`), processed; they may be changed in place. */
  process(logits: Promise<Float32Array | Float64Array>, phase: number): Promise<Float32Array | Float64Array>;
  /** The chosen token is the next step's input. */
  next(id: number): void;
}

/** The logits a decode graph masks on the GPU: all outside `allowed`, and the `banned` ids. */
export interface LogitMask {
  allowed?: TokenRange;
  /** Sorted, distinct. */
  banned: readonly number[];
  /** Names the mask's tensor and sessions; `label` is its short form, for graph names. */
  key: string;
  label: string;
}

/** The GPU parts of `processors` and the `banned` ids as one mask, or null when nothing is masked. */
export function logitMaskOf(processors: readonly LogitsProcessor[], banned: Iterable<number> = []): LogitMask | null {
  const ranges = processors.flatMap((p) => (p.allowed ? [p.allowed] : []));
  const allowed = ranges.length === 0 ? undefined : { start: Math.max(...ranges.map((r) => r.start)), end: Math.min(...ranges.map((r) => r.end)) };
  const ids = [...new Set([...processors.flatMap((p) => p.banned ?? []), ...banned])].sort((a, b) => a - b);
  if (!allowed && ids.length === 0) return null;
  const range = allowed ? `allow${allowed.start}-${allowed.end}` : '';
  const ban = (list: string) => (ids.length > 0 ? `${range ? '_' : ''}ban${list}` : '');
  return { allowed, banned: ids, key: range + ban(ids.join(',')), label: range + ban(ids.length <= 4 ? ids.join(',') : `${ids.length}`) };
}

/** The values a decode graph adds to its logits (vocabulary V): 0 for an allowed token, MASKED_LOGIT for the rest. */
export function logitMaskValues({ allowed, banned }: LogitMask, V: number): Float32Array {
  const values = new Float32Array(V);
  if (allowed) values.fill(MASKED_LOGIT).fill(0, allowed.start, allowed.end);
  for (const id of banned) values[id] = MASKED_LOGIT;
  return values;
}

/** Only ids start ≤ id < end may be chosen: every other logit is masked on the GPU. */
export function allowedTokens(range: TokenRange): LogitsProcessor {
  return { allowed: range };
}

/**
 * HF's NoBadWordsLogitsProcessor: a one-token word is masked on the GPU; for a longer word, its
 * last token is banned on the host when the prompt and the tokens so far end with the rest of it
 * (a word longer than the sequence is skipped, as SequenceBiasLogitsProcessor does from
 * transformers 4.31 on).
 */
export function badWords(words: readonly (readonly number[])[]): LogitsProcessor {
  const banned = words.filter((w) => w.length === 1).map((w) => w[0]!);
  const longer = words.filter((w) => w.length > 1);
  if (longer.length === 0) return { banned };
  const sequence: number[] = [];
  return {
    banned,
    host: {
      async start(_sequence, prompt) {
        sequence.push(...prompt);
        return Infinity;
      },
      async process(logits) {
        const row = await logits;
        const n = sequence.length;
        for (const word of longer) {
          if (word.length > n) continue;
          const last = word.length - 1;
          let match = true;
          for (let i = 0; i < last && match; i++) match = sequence[n - last + i] === word[i];
          if (match) row[word[last]!] = -Infinity;
        }
        return row;
      },
      next(id) {
        sequence.push(id);
      },
    },
  };
}
