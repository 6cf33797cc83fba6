/**
 * The translator's BLEU, for `tessera eval`: Tessera translates the 1,000 English sentences of
 * Multi30k's test_2016_flickr (or the first --limit N) with the model's own generation settings
 * (config.json: num_beams, max_length, length_penalty, ...), batched as `tessera translate` batches
 * them, and scores the German output against the references with src/cli/bleu.ts: nltk's corpus BLEU
 * over 13a tokens, exactly as the training script (tools/train/multi30k_marian.py) scores PyTorch's.
 *
 * Checks:
 * - the first min(100, N) sentences are also translated greedily, and every greedy id sequence must
 *   equal PyTorch's float64 greedy output for the same weights (the model folder's
 *   greedy_test100.jsonl): the exact test that Tessera runs the model PyTorch trained;
 * - on the whole test set only: BLEU ≥ 25 (issue 7's target), and agreement with the BLEU PyTorch's
 *   beam search got (metrics.json `bleu_beam`) within 0.5. The beams are not expected to be identical
 *   everywhere: two float32 implementations can rank a near-tie differently, which changes a
 *   sentence or two.
 *
 * The hypotheses are the tokenizer's decoded text (Hugging Face MarianTokenizer: special tokens
 * dropped). The training script decodes with SentencePiece directly, which writes a generated <unk>
 * as " ⁇ " where Tessera writes nothing; whitespace differences do not matter to 13a tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Gpu } from '../device/gpu.ts';
import { MarianModel } from '../models/marian/model.ts';
import { UsageError } from './args.ts';
import { bleuDetail, corpusBleuStats } from './bleu.ts';
import type { Check, EvalReport } from './eval.ts';
import { ProgressBar } from './progress.ts';
import { jsonForMessage } from '../models/errors.ts';

/** The English and German files of the test set, under the data folder. */
export const TRANSLATION_TEST_FILES = ['multi30k/test_2016_flickr.en.gz', 'multi30k/test_2016_flickr.de.gz'] as const;

export const BLEU_TARGET = 25; // beam search over the whole test set (issue 7)
export const BLEU_AGREEMENT = 0.5; // |Tessera − PyTorch| in BLEU points
export const GREEDY_SENTENCES = 100; // greedy_test100.jsonl
const BATCH_SIZE = 8; // `tessera translate`'s default

/** A gzipped text file's lines, as Python's `[line.rstrip("\n") for line in gzip.open(path, "rt")]` reads them. */
export function readGzipLines(path: string): string[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(gunzipSync(readFileSync(path)));
  } catch (err) {
    throw new UsageError(`eval: cannot read '${path}' as gzipped UTF-8 text (${(err as Error).message})`);
  }
  const lines = text.split(/\r\n|\r|\n/); // Python's universal newlines
  if (lines.at(-1) === '') lines.pop(); // a final newline ends the last line, it starts no new one
  return lines;
}

/** One line of greedy_test100.jsonl: PyTorch's greedy translation of a test sentence. */
export interface GreedyGolden {
  source: string;
  ids: number[];
  text: string;
}

/** The model folder's greedy_test100.jsonl (written by the training script), or [] when it has none. */
export function readGreedyGolden(folder: string, sources: readonly string[]): GreedyGolden[] {
  const path = join(folder, 'greedy_test100.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      let row: GreedyGolden;
      try {
        row = JSON.parse(line) as GreedyGolden;
      } catch (err) {
        throw new UsageError(`eval: ${path} line ${i + 1}: not valid JSON (${(err as Error).message})`);
      }
      if (typeof row !== 'object' || row === null || !Array.isArray(row.ids) || !row.ids.every((id) => Number.isInteger(id))) throw new UsageError(`eval: ${path} line ${i + 1}: "ids" must be a list of token ids`);
      // the golden file must be about the same test set, in the same order
      if (row.source !== sources[i]) throw new UsageError(`eval: ${path} line ${i + 1} translates ${jsonForMessage(row.source)}, test sentence ${i + 1} is ${jsonForMessage(sources[i])}`);
      return row;
    });
}

/**
 * `tessera eval --model multi30k-marian`: BLEU of Tessera's beam search on the test set, and
 * Tessera's greedy ids against PyTorch's. `limit` = the first N test sentences.
 */
export async function evaluateTranslation(gpu: Gpu, folder: string, dataDir: string, limit: number | undefined, recorded: Record<string, unknown> | undefined): Promise<EvalReport> {
  const [enPath, dePath] = TRANSLATION_TEST_FILES.map((f) => join(dataDir, f)) as [string, string];
  const english = readGzipLines(enPath);
  const german = readGzipLines(dePath);
  if (english.length !== german.length) throw new UsageError(`eval: ${enPath} has ${english.length} lines, ${dePath} ${german.length}; they must be line-aligned`);
  const n = Math.min(english.length, limit ?? Infinity);
  const full = n === english.length;
  const golden = readGreedyGolden(folder, english).slice(0, Math.min(GREEDY_SENTENCES, n));

  const model = await MarianModel.load(gpu, folder);
  try {
    if (!model.tokenizer) throw new UsageError(`eval: '${folder}' has no tokenizer (source.spm, target.spm, vocab.json); BLEU needs text`);
    const numBeams = model.generation.numBeams;
    const translate = async (count: number, beams: number, label: string) => {
      const bar = new ProgressBar(count, label);
      let done = 0;
      const t0 = performance.now();
      const results = await model.translate(english.slice(0, count), {
        numBeams: beams,
        batchSize: BATCH_SIZE,
        onProgress: (d) => (bar.tick(d - done), (done = d)),
      });
      return { results, seconds: (performance.now() - t0) / 1000 };
    };

    const beam = await translate(n, numBeams, `translate (${numBeams} beams)`);
    const stats = corpusBleuStats(beam.results.map((r) => r.text!), german.slice(0, n));
    const bleu = stats.bleu;

    const greedy = golden.length > 0 ? await translate(golden.length, 1, 'translate (greedy)') : undefined;
    const differ = golden.flatMap((g, i) => (sameIds(greedy!.results[i]!.ids, g.ids) ? [] : [i + 1]));
    const identical = golden.length - differ.length;

    const checks: Check[] = [];
    if (golden.length > 0) {
      const which = differ.length > 0 ? ` (differ: sentence ${differ.slice(0, 5).join(', ')}${differ.length > 5 ? ', …' : ''})` : '';
      checks.push({ name: `greedy ids identical to PyTorch's on ${identical}/${golden.length} sentences${which}`, ok: differ.length === 0 });
    }
    const torchBleu = typeof recorded?.bleu_beam === 'number' ? recorded.bleu_beam : undefined;
    const torchGreedy = typeof recorded?.bleu_greedy === 'number' ? recorded.bleu_greedy : undefined;
    if (full) {
      checks.push({ name: `BLEU ${bleu.toFixed(2)} >= ${BLEU_TARGET} (${numBeams} beams, ${n} sentences)`, ok: bleu >= BLEU_TARGET });
      if (torchBleu !== undefined) {
        const delta = Math.abs(bleu - torchBleu);
        checks.push({ name: `agrees with PyTorch's BLEU ${torchBleu.toFixed(2)} within ${BLEU_AGREEMENT} (|diff| ${delta.toFixed(2)})`, ok: delta <= BLEU_AGREEMENT });
      }
    }
    const pytorch: Record<string, number> = {};
    if (torchBleu !== undefined) pytorch.bleu = torchBleu;
    if (torchGreedy !== undefined) pytorch.bleu_greedy = torchGreedy;
    return {
      model: basename(folder),
      folder,
      task: `BLEU of ${numBeams}-beam translations of ${full ? 'the' : `the first ${n} of the`} ${english.length} Multi30k test_2016_flickr sentences (English → German; nltk corpus BLEU, 13a tokens)`,
      metrics: {
        bleu,
        bleu_detail: bleuDetail(stats),
        num_beams: numBeams,
        sentences: n,
        seconds: beam.seconds,
        sentences_per_second: n / beam.seconds,
        greedy_sentences: golden.length,
        greedy_identical: identical,
        ...(greedy ? { greedy_seconds: greedy.seconds } : {}),
      },
      pytorch: Object.keys(pytorch).length > 0 ? pytorch : undefined,
      checks,
      summary:
        `BLEU ${bleu.toFixed(2)} (${numBeams} beams) on ${n}${full ? '' : ` of ${english.length}`} test sentences` +
        (full && torchBleu !== undefined ? ` (PyTorch ${torchBleu.toFixed(2)})` : '') +
        (golden.length > 0 ? `, greedy identical to PyTorch on ${identical}/${golden.length}` : ', no greedy_test100.jsonl to compare greedy ids with') +
        `; ${(n / beam.seconds).toFixed(2)} sentences/s, ${beam.seconds.toFixed(0)} s`,
    };
  } finally {
    model.destroy();
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
