/**
 * generate(): a prompt's ids to a stream of tokens, by one of two strategies.
 *  - Greedy decoding with no host processor runs on the GPU (greedy.ts): the ids come back in
 *    chunks and the host only decodes text and checks the stop strings.
 *  - Otherwise each step comes back to the host: the top k of the masked logits when sampling
 *    with no host processor (the GPU's top-k kernel), else the whole row, which the host
 *    processors rewrite (guidance, bad words of several tokens) before the argmax or the draw.
 * The logits processors (logits-processor.ts) come from the options (the allowed tokens, guidance,
 * the bad words) and from the caller (`logitsProcessors`). The EOS ids are masked on the GPU too while
 * fewer than min_new_tokens are out: a generation has two phases, each with its own mask.
 */

import { ShapeError } from '../../device/errors.ts';
import type { GenerationConfig } from '../generation-config.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { greedyIds } from './greedy.ts';
import { classifierFreeGuidance } from './guidance.ts';
import { allowedTokens, badWords, logitMaskOf, type LogitsProcessor } from './logits-processor.ts';
import { generationPlan, type GeneratedToken, type GenerateOptions, type GenerationPlan } from './options.ts';
import { chooseToken, mulberry32, sampleLogits } from './sampling.ts';
import type { Sequence } from './sequence.ts';
import { TextStreamer } from './text-streamer.ts';
import { MAX_K as MAX_TOP_K_ON_GPU } from '../../ops/topk.ts';


/** One generate() call, checked: its plan, its logits processors and when it stops. */
export interface Generation {
  plan: GenerationPlan;
  processors: LogitsProcessor[];
  /** Ids that end generation unyielded: the EOS ids and the `stop` ids. */
  stopIds: Set<number>;
  /** Generation ends after the token that completes one of these. */
  stopStrings: string[];
  seed?: number;
}

/** Check a call's prompt and options against the model and its generation config `g`. */
export function planGeneration(seq: Sequence, g: GenerationConfig, ids: readonly number[], options: GenerateOptions): Generation {
  const V = seq.config.vocabSize;
  seq.checkLength(ids.length, 'generate: the prompt');
  const plan = generationPlan(g, V, ids.length, options);
  const allowed = options.allowedTokens;
  if (allowed && !(Number.isInteger(allowed.start) && Number.isInteger(allowed.end) && allowed.start >= 0 && allowed.start < allowed.end && allowed.end <= V)) {
    throw new RangeError(`generate: allowedTokens {start: ${allowed.start}, end: ${allowed.end}} must be integers with 0 ≤ start < end ≤ ${V} (the vocabulary)`);
  }
  const guidance = options.guidance && options.guidance.scale !== 1 ? options.guidance : undefined;
  if (options.guidance && !Number.isFinite(options.guidance.scale)) throw new RangeError(`generate: guidance scale must be a finite number, got ${options.guidance.scale}`);
  if (guidance) {
    if (guidance.unconditional.length === 0) throw new ShapeError('generate: the unconditional sequence of guidance is empty');
    seq.checkLength(guidance.unconditional.length, 'generate: the unconditional sequence of guidance');
    seq.checkIds(guidance.unconditional);
  }
  const stops = [options.stop ?? []].flat();
  return {
    plan,
    // In HF's order: guidance rewrites the logits before the bad words are banned from them, and
    // the caller's processors come after the ones the options make.
    processors: [
      ...(allowed ? [allowedTokens(allowed)] : []),
      ...(guidance ? [classifierFreeGuidance(guidance.scale, guidance.unconditional)] : []),
      badWords(plan.badWords),
      ...(options.logitsProcessors ?? []),
    ],
    stopIds: new Set([...plan.eos, ...stops.filter((s): s is number => typeof s === 'number')]),
    stopStrings: stops.filter((s): s is string => typeof s === 'string' && s.length > 0),
    seed: options.seed,
  };
}

/** Stream the tokens after `ids` (checked by planGeneration) on `seq`. */
export async function* generateTokens(seq: Sequence, tokenizer: Tokenizer | undefined, ids: readonly number[], generation: Generation): AsyncGenerator<GeneratedToken> {
  const { plan, processors, stopIds, stopStrings } = generation;
  const { sampling, minNew } = plan;
  const mask = logitMaskOf(processors);
  const masks = [minNew > 0 && plan.eos.length > 0 ? logitMaskOf(processors, plan.eos) : mask, mask];
  const hosts = processors.flatMap((p) => (p.host ? [p.host] : []));

  let position = await seq.start(ids);
  let limit = Infinity;
  for (const host of hosts) limit = Math.min(limit, await host.start(seq, ids, masks));
  const text = new TextStreamer(tokenizer, ids[position]!);
  /** The token to yield, or null when generation ends before it. */
  const accept = (id: number): GeneratedToken | null => (stopIds.has(id) ? null : { id, text: text.push(id) });
  const endsWithStop = () => stopStrings.some((s) => text.tail(s.length + text.lastLength).includes(s));
  const total = Math.min(plan.maxNew, seq.maxContext - position, limit);
  // The forced EOS is the last token when generation runs to its length: no decode step chooses it.
  const forced = plan.forced.length > 0 && total > 0 ? plan.forced : null;
  const decoded = forced ? total - 1 : total;
  const random = mulberry32(generation.seed ?? Math.floor(Math.random() * 2 ** 32));

  if (!sampling.sample && hosts.length === 0) {
    const banning = Math.min(minNew, decoded);
    for await (const id of greedyIds(seq, position, [{ steps: banning, mask: masks[0] }, { steps: decoded - banning, mask }])) {
      const token = accept(id);
      if (!token) return;
      yield token;
      if (endsWithStop()) return;
    }
  } else {
    const gpuTopK = sampling.sample && sampling.topK > 0 && sampling.topK <= MAX_TOP_K_ON_GPU && hosts.length === 0;
    for (let produced = 0; produced < decoded; produced++) {
      const phase = produced < minNew ? 0 : 1;
      let id: number;
      if (gpuTopK) {
        const { values, indices } = await seq.topK(sampling.topK, masks[phase]);
        id = sampleLogits(values, indices, sampling.temperature, sampling.topP, random);
      } else {
        let logits: Promise<Float32Array | Float64Array> = seq.logits(masks[phase]);
        for (const host of hosts) logits = host.process(logits, phase);
        id = chooseToken(await logits, sampling, random);
      }
      const token = accept(id);
      if (!token) return;
      yield token;
      if (endsWithStop()) return;
      seq.feed(id, ++position);
      for (const host of hosts) host.next(id);
    }
  }
  if (forced) {
    // HF gives the forced ids score 0 and every other −inf: greedy takes the first, sampling draws among them.
    const candidates = [...new Set(forced)].sort((a, b) => a - b);
    const id = sampling.sample && candidates.length > 1 ? sampleLogits(new Float64Array(candidates.length), candidates, 1, 1, random) : candidates[0]!;
    const token = accept(id);
    if (token) yield token;
  }
}
