/**
 * BLEU, as the translator's training script measures it (tools/train/multi30k_marian.py): nltk's
 * `corpus_bleu` with its defaults (4-gram, uniform weights, no smoothing), one reference per
 * sentence, case-sensitive, over tokens from sacrebleu's "13a" tokenizer. In percent.
 *
 * tokenize13a(line): the script's `tokenize_13a` (mteval-v13a.pl's rules): drop "<skipped>", join
 *   words broken by "-\n", unescape &quot; &amp; &lt; &gt; (only those), then put spaces around
 *   ASCII punctuation and symbols, around periods and commas unless a digit is on that side, and
 *   after a dash that follows a digit; split on whitespace as Python's str.split() defines it.
 *
 * corpusBleu(hypotheses, references): for each order n = 1..4, every hypothesis n-gram counts at most
 *   as often as it occurs in its reference ("clipped"); matches and totals are summed over the corpus
 *   (nltk counts a total of at least 1 per sentence, even where a hypothesis has no n-gram of that
 *   order), p_n = matches_n / totals_n, and
 *
 *     BLEU = BP · exp(Σ_n ¼ · log p_n),   BP = 1 if c > r, else exp(1 − r / c)   (0 when c = 0)
 *
 *   with c the hypotheses' total length and r the references'. Like nltk without smoothing, the BLEU
 *   is 0 when no unigram matches, and a p_n of 0 at a higher order is replaced by the smallest normal
 *   double (2.2e-308), which makes the BLEU ~1e-75 % rather than exactly 0. Checked against nltk by
 *   test/bleu.test.ts on the fixture of tools/reference/bleu_cases.py.
 */

export const BLEU_ORDER = 4;

// Python's str.split() splits on the characters str.isspace() accepts: JavaScript's \s without
// U+FEFF, plus the ASCII information separators 0x1C-0x1F and NEL (U+0085).
const PYTHON_WHITESPACE = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** sacrebleu's "13a" tokenization, exactly as tools/train/multi30k_marian.py's `tokenize_13a`. */
export function tokenize13a(line: string): string[] {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  line = ` ${line} `;
  line = line.replace(/([{-~[-` -&(-+:-@/])/gu, ' $1 '); // ASCII punctuation and symbols
  line = line.replace(/([^0-9])([.,])/gu, '$1 $2 '); // a period or comma not after a digit
  line = line.replace(/([.,])([^0-9])/gu, ' $1 $2'); // ... or not before one
  line = line.replace(/([0-9])(-)/gu, '$1 $2 '); // a dash after a digit
  return line.split(PYTHON_WHITESPACE).filter((token) => token !== '');
}

/** The corpus sums BLEU is computed from, and the BLEU itself (percent). */
export interface BleuStats {
  bleu: number;
  /** Per order 1..4: clipped n-gram matches, summed over the corpus. */
  matches: number[];
  /** Per order 1..4: hypothesis n-grams (at least 1 per sentence, as nltk counts), summed. */
  totals: number[];
  brevityPenalty: number;
  hypothesisLength: number;
  referenceLength: number;
}

/** How often each n-gram of `tokens` occurs (keyed by its tokens joined with spaces, which no token contains). */
function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** nltk's corpus_bleu (see the file comment) of raw hypothesis and reference lines, 13a-tokenized. */
export function corpusBleuStats(hypotheses: readonly string[], references: readonly string[]): BleuStats {
  if (hypotheses.length !== references.length) throw new RangeError(`BLEU: ${hypotheses.length} hypotheses for ${references.length} references`);
  const matches = new Array<number>(BLEU_ORDER).fill(0);
  const totals = new Array<number>(BLEU_ORDER).fill(0);
  let hypothesisLength = 0;
  let referenceLength = 0;
  hypotheses.forEach((line, i) => {
    const hyp = tokenize13a(line);
    const ref = tokenize13a(references[i]!);
    for (let n = 1; n <= BLEU_ORDER; n++) {
      const refCounts = ngramCounts(ref, n);
      let hypTotal = 0;
      for (const [ngram, count] of ngramCounts(hyp, n)) {
        matches[n - 1]! += Math.min(count, refCounts.get(ngram) ?? 0);
        hypTotal += count;
      }
      totals[n - 1]! += Math.max(1, hypTotal);
    }
    hypothesisLength += hyp.length;
    referenceLength += ref.length; // the closest reference length, with one reference
  });
  const brevityPenalty = hypothesisLength > referenceLength ? 1 : hypothesisLength === 0 ? 0 : Math.exp(1 - referenceLength / hypothesisLength);
  let bleu = 0;
  if (matches[0]! > 0) {
    let logSum = 0;
    for (let n = 0; n < BLEU_ORDER; n++) {
      const p = matches[n]! > 0 ? matches[n]! / totals[n]! : 2.2250738585072014e-308; // nltk's sys.float_info.min
      logSum += Math.log(p) / BLEU_ORDER;
    }
    bleu = 100 * brevityPenalty * Math.exp(logSum);
  }
  return { bleu, matches, totals, brevityPenalty, hypothesisLength, referenceLength };
}

/** Corpus BLEU in percent (nltk's corpus_bleu over 13a tokens; see the file comment). */
export function corpusBleu(hypotheses: readonly string[], references: readonly string[]): number {
  return corpusBleuStats(hypotheses, references).bleu;
}

/** sacrebleu-style detail: "p1/p2/p3/p4 (BP b, hypothesis c / reference r tokens)", precisions in percent. */
export function bleuDetail(s: BleuStats): string {
  const precisions = s.matches.map((m, n) => ((100 * m) / s.totals[n]!).toFixed(1)).join('/');
  return `${precisions} (BP ${s.brevityPenalty.toFixed(3)}, hypothesis ${s.hypothesisLength} / reference ${s.referenceLength} tokens)`;
}
