/**
 * The host side of Hugging Face's `generate` for an encoder-decoder: the logits processors, greedy
 * search and beam search (`BeamSearchScorer` / `BeamHypotheses`), step by step. The model runs
 * the decoder on the GPU for all N = sources × beams rows at once and hands each step's logits
 * [N, V] here; these classes choose the next tokens and, for beam search, which old beam each new
 * beam continues (the model then reorders its KV cache on the GPU).
 *
 * Semantics follow transformers 4.36–4.46 (the last BeamSearchScorer): lengths in the length
 * penalty count generated tokens (the decoder start token excluded, the EOS included); the
 * processors run in `_get_logits_processor`'s order, NoBadWords → MinLength → ForcedEOS →
 * LogitNormalization (renormalize_logits); beam search scores log-softmax(logits) and takes the
 * (1 + number of EOS ids) × numBeams best candidates per source, while greedy search takes the
 * argmax of the processed logits; any EOS id ends a sequence, and a beam hypothesis that ended on
 * one gets the first EOS id written after it (BeamSearchScorer.finalize). Scores are accumulated in
 * float64 (HF: float32), which changes nothing but the last bits of the scores.
 */

export interface SearchSettings {
  /** 1 = greedy search. */
  numBeams: number;
  /** Longest sequence, counting the decoder start token (HF's max_length = 1 + max_new_tokens). */
  maxLength: number;
  /** EOS is banned while the sequence (start token included) is shorter than this. */
  minLength: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** Every id that ends a sequence (HF's eos_token_id, one id or a list); empty: only maxLength ends one. */
  eosIds: readonly number[];
  /** Fed to the rows that have finished. */
  padId: number;
  decoderStartId: number;
  /**
   * `bad_words_ids` (HF NoBadWordsLogitsProcessor): a single token is never generated; for a longer
   * word, its last token is banned in the rows whose last tokens are the rest of it.
   */
  badWords: readonly (readonly number[])[];
  /** Forced at the last position (HF ForcedEOSTokenLogitsProcessor: these ids score 0, the rest −inf); empty: off. */
  forcedEosIds: readonly number[];
  /** HF renormalize_logits: the processed scores are log-softmaxed again (LogitNormalization, the last processor). */
  renormalizeLogits?: boolean;
}

export interface SearchResult {
  /** Generated ids: without the decoder start token, up to and with EOS (absent when cut at maxLength). */
  ids: number[];
  /** Beam search: the hypothesis score (sum of log-probabilities / generated length ^ length_penalty). */
  score?: number;
}

/**
 * HF's logits processors for these settings, in place on one row (logits, or log-probabilities):
 * `sequence` is the row's tokens so far, the decoder start token included.
 */
export function processScores(row: Float64Array, sequence: readonly number[], s: SearchSettings): void {
  const curLen = sequence.length;
  for (const word of s.badWords) {
    const last = word.length - 1;
    // HF skips a word longer than the sequence so far, start token included.
    if (last === 0 || (word.length <= curLen && word.every((t, i) => i === last || sequence[curLen - last + i] === t))) row[word[last]!] = -Infinity;
  }
  if (curLen < s.minLength) for (const id of s.eosIds) row[id] = -Infinity;
  if (s.forcedEosIds.length > 0 && curLen === s.maxLength - 1) {
    row.fill(-Infinity);
    for (const id of s.forcedEosIds) row[id] = 0;
  }
  if (s.renormalizeLogits) logSoftmax(row, row);
}

/** log_softmax of a row of logits, in float64. */
export function logSoftmax(logits: ArrayLike<number>, out: Float64Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - logZ;
  return out;
}

/** What a search asks the model to run next. */
export interface NextStep {
  /** The token each of the N rows feeds to the decoder. */
  tokens: Int32Array;
  /** For beam search: the old row whose KV cache each row continues (identity for greedy). */
  sources: Int32Array;
}

export interface Search {
  readonly done: boolean;
  /** The first step: the decoder start token in every row. */
  start(): NextStep;
  /** Take one step's logits [N, V] (row-major) and return the next step. */
  step(logits: Float32Array): NextStep;
  results(): SearchResult[];
}

/** Greedy search (HF `_greedy_search`): argmax of the processed logits; rows that ended on an EOS id get pad. */
export class GreedySearch implements Search {
  private readonly sequences: number[][];
  private readonly unfinished: boolean[];
  private readonly row: Float64Array;
  private finishedAll = false;

  constructor(private readonly batch: number, private readonly vocab: number, private readonly s: SearchSettings) {
    this.sequences = Array.from({ length: batch }, () => [s.decoderStartId]);
    this.unfinished = new Array(batch).fill(true);
    this.row = new Float64Array(vocab);
  }

  get done(): boolean {
    return this.finishedAll || this.sequences[0]!.length >= this.s.maxLength;
  }

  start(): NextStep {
    return { tokens: Int32Array.from(this.sequences, (q) => q[0]!), sources: Int32Array.from(this.sequences, (_, i) => i) };
  }

  step(logits: Float32Array): NextStep {
    const V = this.vocab;
    for (let b = 0; b < this.batch; b++) {
      let next = this.s.padId;
      if (this.unfinished[b]) {
        for (let v = 0; v < V; v++) this.row[v] = logits[b * V + v]!;
        processScores(this.row, this.sequences[b]!, this.s);
        next = 0;
        for (let v = 1; v < V; v++) if (this.row[v]! > this.row[next]!) next = v; // first index on ties, as torch.argmax
        if (this.s.eosIds.includes(next)) this.unfinished[b] = false;
      }
      this.sequences[b]!.push(next);
    }
    this.finishedAll = this.unfinished.every((u) => !u);
    return { tokens: Int32Array.from(this.sequences, (q) => q[q.length - 1]!), sources: Int32Array.from(this.sequences, (_, i) => i) };
  }

  results(): SearchResult[] {
    return this.sequences.map((q) => {
      const ids = q.slice(1);
      const end = ids.findIndex((t) => this.s.eosIds.includes(t));
      return { ids: end >= 0 ? ids.slice(0, end + 1) : ids };
    });
  }
}

/** HF `BeamHypotheses`: the best finished hypotheses of one source, at most numBeams of them. */
class BeamHypotheses {
  readonly beams: { score: number; tokens: number[] }[] = [];
  worstScore = 1e9;

  constructor(private readonly s: SearchSettings) {}

  add(tokens: number[], sumLogprobs: number, generatedLength: number): void {
    const score = sumLogprobs / generatedLength ** this.s.lengthPenalty;
    if (this.beams.length < this.s.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens });
      if (this.beams.length > this.s.numBeams) {
        const ranked = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(ranked[0]![1], 1);
        this.worstScore = ranked[1]![0];
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /** Can no open beam beat the worst kept hypothesis any more? (`early_stopping` decides how hard to look.) */
  isDone(bestSumLogprobs: number, curLen: number, promptLength: number): boolean {
    if (this.beams.length < this.s.numBeams) return false;
    if (this.s.earlyStopping === true) return true;
    const p = this.s.lengthPenalty;
    // false: a heuristic (the best open beam, scored at the current length); 'never': the best any continuation could reach
    const length = this.s.earlyStopping === 'never' && p > 0 ? this.s.maxLength : curLen;
    return this.worstScore >= bestSumLogprobs / (length - promptLength) ** p;
  }
}

/** One candidate continuation: a score, and the flat index beam·V + token within its source. */
interface Candidate {
  score: number;
  index: number;
}

/** The k best of a source's nb·V continuations, best first (lower flat index first on ties). */
function topCandidates(scores: Float64Array, k: number): Candidate[] {
  const top: Candidate[] = [];
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i]!;
    if (top.length === k && !(score > top[k - 1]!.score)) continue;
    let at = top.length === k ? k - 1 : top.length;
    if (top.length === k) top.pop();
    while (at > 0 && score > top[at - 1]!.score) at--;
    top.splice(at, 0, { score, index: i });
  }
  return top;
}

/** Beam search (HF `_beam_search` with `BeamSearchScorer`) over a batch of sources, numBeams rows each. */
export class BeamSearch implements Search {
  private sequences: number[][];
  private beamScores: Float64Array;
  private readonly hypotheses: BeamHypotheses[];
  private readonly finished: boolean[];
  private readonly candidates: Float64Array;
  private readonly row: Float64Array;
  /** Candidates kept per source and step: (1 + number of EOS ids) × numBeams, at least 2 × numBeams (HF). */
  private readonly keep: number;
  /** The decoder start token. */
  private static readonly PROMPT_LENGTH = 1;

  constructor(private readonly batch: number, private readonly vocab: number, private readonly s: SearchSettings) {
    const nb = s.numBeams;
    this.keep = Math.max(2, 1 + s.eosIds.length) * nb;
    if (this.keep > nb * vocab) throw new RangeError(`beam search: ${nb} beams and ${s.eosIds.length} EOS ids need a vocabulary of at least ${this.keep / nb}`);
    this.sequences = Array.from({ length: batch * nb }, () => [s.decoderStartId]);
    // Only the first beam of each source is live at the start: the others would repeat it.
    this.beamScores = Float64Array.from({ length: batch * nb }, (_, i) => (i % nb === 0 ? 0 : -1e9));
    this.hypotheses = Array.from({ length: batch }, () => new BeamHypotheses(s));
    this.finished = new Array(batch).fill(false);
    this.candidates = new Float64Array(nb * vocab);
    this.row = new Float64Array(vocab);
  }

  get done(): boolean {
    return this.finished.every((f) => f) || this.sequences[0]!.length >= this.s.maxLength;
  }

  start(): NextStep {
    return { tokens: Int32Array.from(this.sequences, (q) => q[0]!), sources: Int32Array.from(this.sequences, (_, i) => i) };
  }

  step(logits: Float32Array): NextStep {
    const { numBeams: nb, eosIds, padId } = this.s;
    const V = this.vocab;
    const curLen = this.sequences[0]!.length;
    const nextScores = new Float64Array(this.batch * nb);
    const nextTokens = new Int32Array(this.batch * nb);
    const nextSources = new Int32Array(this.batch * nb); // a finished source's rows continue row 0, as in HF
    for (let b = 0; b < this.batch; b++) {
      if (this.finished[b]) {
        nextTokens.fill(padId, b * nb, (b + 1) * nb);
        continue;
      }
      for (let j = 0; j < nb; j++) {
        const r = b * nb + j;
        logSoftmax(logits.subarray(r * V, (r + 1) * V), this.row);
        processScores(this.row, this.sequences[r]!, this.s);
        for (let v = 0; v < V; v++) this.candidates[j * V + v] = this.row[v]! + this.beamScores[r]!;
      }
      const top = topCandidates(this.candidates, this.keep);
      let kept = 0;
      for (let rank = 0; rank < top.length && kept < nb; rank++) {
        const { score, index } = top[rank]!;
        const token = index % V;
        const from = b * nb + Math.floor(index / V);
        if (eosIds.includes(token)) {
          // An EOS outside the nb best does not finish a hypothesis.
          if (rank >= nb) continue;
          this.hypotheses[b]!.add(this.sequences[from]!.slice(), score, curLen + 1 - BeamSearch.PROMPT_LENGTH);
        } else {
          nextScores[b * nb + kept] = score;
          nextTokens[b * nb + kept] = token;
          nextSources[b * nb + kept] = from;
          kept++;
        }
      }
      if (kept < nb) throw new Error(`beam search: fewer than ${nb} continuations that are not EOS among the ${this.keep} best`);
      this.finished[b] = this.hypotheses[b]!.isDone(top[0]!.score, curLen + 1, BeamSearch.PROMPT_LENGTH);
    }
    this.beamScores = nextScores;
    this.sequences = Array.from(nextSources, (from, r) => [...this.sequences[from]!, nextTokens[r]!]);
    return { tokens: nextTokens, sources: nextSources };
  }

  /** HF `BeamSearchScorer.finalize`: open beams of unfinished sources compete too; the best hypothesis wins. */
  results(): SearchResult[] {
    const nb = this.s.numBeams;
    return this.hypotheses.map((hyps, b) => {
      if (!this.finished[b]) {
        for (let j = 0; j < nb; j++) {
          const r = b * nb + j;
          hyps.add(this.sequences[r]!, this.beamScores[r]!, this.sequences[r]!.length - BeamSearch.PROMPT_LENGTH);
        }
      }
      // the last of a stable ascending sort, as HF's sorted(...).pop()
      const best = hyps.beams.map((h, i) => [h, i] as const).sort((x, y) => x[0].score - y[0].score || x[1] - y[1]).pop()![0];
      const ids = best.tokens.slice(1);
      // A hypothesis shorter than maxLength ended on an EOS id; finalize writes the first EOS id after it.
      if (best.tokens.length < this.s.maxLength && this.s.eosIds.length > 0) ids.push(this.s.eosIds[0]!);
      return { ids, score: best.score };
    });
  }
}
