/**
 * The graphs a LanguageModel compiles. Each binds the model's weights and its sequence state (the
 * KV cache, the token, the position) as constants, so all of them continue one sequence:
 *  - prefill: a chunk of T tokens appends k and v to the cache; for `logits()`, the LM head runs on
 *    every row;
 *  - decode: one token against the cache. 'greedy' ends in argmax and the `advance` kernel, which
 *    feeds the chosen id back as the next input and moves the position on; 'logits' and top-k
 *    return the (masked) logits for the host;
 *  - attention maps: a prefill chunk whose outputs are every layer's attention probabilities.
 */

import type { Tensor } from '../../device/tensor.ts';
import { GraphBuilder } from '../../graph/builder.ts';
import type { Value } from '../../graph/graph.ts';
import { advanceOp } from '../../ops/advance.ts';
import type { KVCache, LmConfig, ModelFamily } from '../decoder.ts';
import type { SequenceState } from './kv-cache.ts';
import { llamaStepNode, type LlamaStep } from './llama-step.ts';
import type { LogitMask } from './logits-processor.ts';

/** Largest vocabulary whose greedy argmax the advance kernel takes itself (one invocation). */
const ADVANCE_ARGMAX_MAX_VOCAB = 4096;

/** What the graphs of one sequence bind. */
export interface GraphSource {
  config: LmConfig;
  family: ModelFamily;
  weights: ReadonlyMap<string, Tensor>;
  state: SequenceState;
  /** The one-kernel decode step, when the model uses it. */
  step: LlamaStep | null;
  /** f32 [V]: 0 for an allowed token, MASKED_LOGIT for the rest. */
  logitMask(mask: LogitMask): Tensor;
}

/** A builder with every weight and the sequence state bound as constants. */
function builder(m: GraphSource, name: string): { g: GraphBuilder; weight: (name: string) => Value; cache: KVCache } {
  const g = new GraphBuilder(name);
  const values = new Map<Tensor, Value>();
  const weights = new Map<string, Value>();
  for (const [key, tensor] of m.weights) {
    if (!values.has(tensor)) values.set(tensor, g.constant(key, tensor));
    weights.set(key, values.get(tensor)!);
  }
  const weight = (key: string) => {
    const v = weights.get(key);
    if (!v) throw new Error(`${m.config.family} graph: no weight '${key}'`);
    return v;
  };
  return { g, weight, cache: m.state.bind(g) };
}

/** T tokens at rows position .. position + T − 1: the cache is filled; with `logits`, the LM head runs on every row. */
export function prefillGraph(m: GraphSource, T: number, logits: boolean): GraphBuilder {
  const { g, weight, cache } = builder(m, `${m.config.family}_prefill_${T}`);
  const ids = g.input('ids', [1, T], 'i32');
  g.output(logits ? 'logits' : 'hidden', m.family.build(g, m.config, weight, ids, cache, logits));
  return g;
}

/** One token against the cache: 'greedy' chooses and advances on the GPU; else returns logits or the top k. */
export function decodeGraph(m: GraphSource, mode: 'greedy' | 'logits' | { topK: number }, mask: LogitMask | null): GraphBuilder {
  const name = typeof mode === 'string' ? mode : `top${mode.topK}`;
  const { g, weight, cache } = builder(m, `${m.config.family}_decode_${name}${mask ? `_${mask.label}` : ''}`);
  const ids = g.constant('ids', m.state.ids);
  // A small Llama model runs the whole step as one kernel, which for unmasked greedy decoding
  // also takes the argmax and advances, a whole chunk of steps in one dispatch (its input
  // 'steps'); otherwise the decode graph.
  const step = m.step && { kCache: g.constant('k_cache', m.state.kAll), vCache: g.constant('v_cache', m.state.vAll), ids, position: cache.position };
  if (step && mode === 'greedy' && !mask) {
    const history = g.constant('history', m.state.history);
    llamaStepNode(g, m.step!, step, { kvLength: cache.kvLength, history, steps: g.input('steps', [1], 'u32') });
    g.output('history', history);
    return g;
  }
  let logits = step
    ? llamaStepNode(g, m.step!, step)
    : g.reshape(m.family.build(g, m.config, weight, ids, cache, true), [1, m.config.vocabSize], 'logits');
  if (mask) logits = g.add(logits, g.constant('logit_mask', m.logitMask(mask)), 'masked_logits');
  if (mode === 'greedy') {
    const history = g.constant('history', m.state.history);
    // A small vocabulary is scanned by the advance kernel itself: one dispatch fewer.
    const choice = m.config.vocabSize <= ADVANCE_ARGMAX_MAX_VOCAB ? { logits } : { next: g.argmax(logits, 'next') };
    g.apply(advanceOp, { ...choice, ids, position: cache.position, kvLength: cache.kvLength, history }, {}, 'advance');
    g.output('history', history);
  } else if (mode === 'logits') {
    g.output('logits', logits);
  } else {
    const top = g.topK(logits, mode.topK);
    g.output('values', top.values);
    g.output('indices', top.indices);
  }
  return g;
}

/** A padded prefill chunk of T tokens whose outputs are each layer's attention probabilities 'probs.<layer>' [1, H, T, capacity]. */
export function attentionMapsGraph(m: GraphSource, T: number): GraphBuilder {
  const { g, weight, cache } = builder(m, `${m.config.family}_attention_maps_${T}`);
  const probs: Value[] = [];
  m.family.build(g, m.config, weight, g.input('ids', [1, T], 'i32'), { ...cache, probs }, false);
  probs.forEach((p, layer) => g.output(`probs.${layer}`, p));
  return g;
}

/** One layer's attention-map output [1, H, T, capacity] cut to the n real queries and keys: [H, n, n]. */
export function cropAttentionMap(all: Float32Array, H: number, T: number, capacity: number, n: number): Float32Array {
  const map = new Float32Array(H * n * n);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < n; i++) map.set(all.subarray((h * T + i) * capacity, (h * T + i) * capacity + n), (h * n + i) * n);
  }
  return map;
}
