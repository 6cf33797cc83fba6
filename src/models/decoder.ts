/**
 * What a decoder-only language-model family (GPT-2, Llama) provides to `LanguageModel`: its
 * configuration in common terms, the tensors its checkpoints hold, the weights as the graphs
 * use them, and the graph of the network from token ids to the final hidden state.
 */

import type { GraphBuilder } from '../graph/builder.ts';
import type { Value } from '../graph/graph.ts';
import { attentionOp } from '../ops/attention.ts';
import type { CheckpointMatchOptions, ExpectedTensor, HostTensor } from './checkpoint.ts';

export interface LmConfig {
  family: 'gpt2' | 'llama';
  vocabSize: number;
  /** Width of the residual stream. */
  dim: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads (grouped-query attention); numHeads for GPT-2. */
  numKVHeads: number;
  headDim: number;
  /** Width of the feed-forward hidden layer. */
  hiddenDim: number;
  /** The longest sequence the model was trained for (learned positions, RoPE tables). */
  contextLength: number;
  /** Normalisation epsilon. */
  eps: number;
  /** GPT-2's MLP activation. */
  activation: 'gelu_tanh' | 'gelu_erf';
  /** Llama's RoPE base. */
  ropeTheta: number;
  /** HF Llama checkpoints store q/k rows for rotate-half RoPE; llama2.c stores adjacent pairs. */
  rotateHalfCheckpoint: boolean;
  tiedEmbeddings: boolean;
  /** Prepended to every text prompt (Llama's BOS), if the model wants one. */
  bos?: number;
  /** What an empty prompt starts from (BOS, or GPT-2's <|endoftext|>). */
  startId?: number;
  /** Tokens that end generation (EOS, GPT-2's <|endoftext|>, llama2.c's BOS). */
  stopIds: number[];
}

/** Where the decoder keeps its KV cache and the counters that index it. */
export interface KVCache {
  /** u32 [1]: the cache row of the first token of this run. */
  position: Value;
  /** u32 [1]: how many cache rows attention reads (position + T). */
  kvLength: Value;
  /** Per layer, [1, capacity, numKVHeads·headDim]. */
  k: Value[];
  v: Value[];
  /**
   * Set to an empty array to collect attention pictures: each layer's prefill attention then also
   * outputs its probabilities [1, numHeads, T, capacity] into probs[layer] (T ≥ 2).
   */
  probs?: Value[];
}

export interface ModelFamily {
  /** The tensors a checkpoint must hold, with their shapes, and how stored names may differ. */
  expected(config: LmConfig): ExpectedTensor[];
  matchOptions: CheckpointMatchOptions;
  /**
   * The weights as the graph uses them (fused projections, permuted rows), keyed by graph name,
   * from the checkpoint's tensors keyed by expected name. Tied weights are the same HostTensor.
   */
  prepare(config: LmConfig, tensors: ReadonlyMap<string, HostTensor>): Map<string, HostTensor>;
  /**
   * ids i32 [1, T] → logits [1, T, V] (with `head`), or the final normalised hidden state
   * [1, T, dim] (without: a prefill that only fills the cache); k and v go to the cache.
   */
  build(g: GraphBuilder, config: LmConfig, weight: (name: string) => Value, ids: Value, cache: KVCache, head: boolean): Value;
}

/** Rows of several [rows_i, cols] matrices stacked into one (e.g. [Wq; Wk; Wv]). */
export function stackRows(parts: readonly HostTensor[]): HostTensor {
  const cols = parts[0]!.shape[1]!;
  const rows = parts.reduce((n, p) => n + p.shape[0]!, 0);
  const data = new Float32Array(rows * cols);
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { shape: [rows, cols], data };
}

/**
 * A block's causal self-attention from its fused projection qkv [1, T, (H + 2·KVH)·D], with k and
 * v appended to layer `layer`'s cache (RoPE applied to q and k when `theta` is given): one
 * attention node, whose kernel table does the split, RoPE and cache write too.
 */
export function cachedAttention(g: GraphBuilder, c: LmConfig, qkv: Value, cache: KVCache, layer: number, theta?: number): Value {
  const returnProbs = cache.probs !== undefined && qkv.shape[1]! > 1;
  const inputs = { qkv, position: cache.position, kCache: cache.k[layer], vCache: cache.v[layer], kvLength: cache.kvLength };
  const attrs = { numHeads: c.numHeads, numKVHeads: c.numKVHeads, headDim: c.headDim, theta, causal: true, returnProbs };
  const attention = g.apply(attentionOp, inputs, attrs, 'attention');
  if (returnProbs) cache.probs![layer] = attention.probs!;
  return attention.out!;
}
