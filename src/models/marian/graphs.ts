/**
 * Marian's two graphs, written like the math (post-LayerNorm: x = LN(x + sublayer(x))).
 *
 *  - The encoder runs once per batch of B sources, padded on the right to Ts tokens (a key-padding
 *    mask keeps the padding out of attention). Its outputs are not the hidden states but what
 *    the decoder reads from them: every decoder layer's cross-attention keys and values
 *    [B, Ts, D], projected once here and kept for the whole decoding.
 *  - A decoder step runs one token for each of N = B × beams rows against a self-attention KV
 *    cache [N, capacity, D] per layer, and returns the logits [N, V]. For beam search the step
 *    first reorders the cache (rows < position) from the previous step's cache into this step's
 *    (cacheGather, ping-ponging between two caches), then appends the new k and v.
 *    Cross-attention needs no copy per beam: the N query rows are viewed as B sources × `beams`
 *    queries each, all attending to their source's keys ([B, beams, D] against [B, Ts, D]).
 */

import type { GraphBuilder } from '../../graph/builder.ts';
import type { Value } from '../../graph/graph.ts';
import { cacheGatherOp } from '../../ops/cache-gather.ts';
import type { MarianConfig } from './config.ts';

export type WeightOf = (name: string) => Value;

/** q, k, v projections of a MarianAttention; HF scales q by head_dim^-0.5, which is attention's default scale. */
function project(g: GraphBuilder, w: WeightOf, p: string, x: Value, proj: 'q_proj' | 'k_proj' | 'v_proj'): Value {
  return g.matmul(x, w(`${p}.${proj}.weight`), { transposeB: true, bias: w(`${p}.${proj}.bias`), name: proj });
}

/** x = LN(x + fc2(act(fc1(x)))) */
function feedForward(g: GraphBuilder, c: MarianConfig, w: WeightOf, p: string, x: Value): Value {
  const h = g.matmul(x, w(`${p}.fc1.weight`), { transposeB: true, bias: w(`${p}.fc1.bias`), activation: c.activation, name: 'fc1' });
  const y = g.matmul(h, w(`${p}.fc2.weight`), { transposeB: true, bias: w(`${p}.fc2.bias`), residual: x, name: 'fc2' });
  return g.layerNorm(y, w(`${p}.final_layer_norm.weight`), w(`${p}.final_layer_norm.bias`), 1e-5, 'final_layer_norm');
}

/** x = LN(x + out_proj(attended)) */
function attentionOutput(g: GraphBuilder, w: WeightOf, p: string, norm: string, attended: Value, x: Value): Value {
  const y = g.matmul(attended, w(`${p}.out_proj.weight`), { transposeB: true, bias: w(`${p}.out_proj.bias`), residual: x, name: 'out_proj' });
  return g.layerNorm(y, w(`${norm}.weight`), w(`${norm}.bias`), 1e-5, norm.slice(norm.lastIndexOf('.') + 1));
}

/**
 * ids i32 [B, Ts], mask u32 [B, Ts] (1 = token, 0 = padding) → outputs `cross_k.i`, `cross_v.i`
 * [B, Ts, D] for each decoder layer i.
 */
export function buildEncoder(g: GraphBuilder, c: MarianConfig, w: WeightOf, ids: Value, mask: Value): void {
  const scale = c.scaleEmbedding ? Math.sqrt(c.dim) : 1;
  const heads = { numHeads: c.encoderHeads, headDim: c.dim / c.encoderHeads };
  let x = g.embedding(ids, w('encoder.embed'), { positions: w('encoder.positions'), scale, name: 'embed' });
  for (let i = 0; i < c.encoderLayers; i++) {
    const p = `model.encoder.layers.${i}`;
    x = g.scope(`encoder.${i}`, () => {
      const a = `${p}.self_attn`;
      const [q, k, v] = (['q_proj', 'k_proj', 'v_proj'] as const).map((proj) => project(g, w, a, x, proj));
      const attended = g.attention(q!, k!, v!, heads, { keyMask: mask }).out;
      const h = attentionOutput(g, w, a, `${p}.self_attn_layer_norm`, attended, x);
      return feedForward(g, c, w, p, h);
    });
  }
  for (let i = 0; i < c.decoderLayers; i++) {
    const a = `model.decoder.layers.${i}.encoder_attn`;
    g.scope(`decoder.${i}.encoder_attn`, () => {
      g.output(`cross_k.${i}`, project(g, w, a, x, 'k_proj'));
      g.output(`cross_v.${i}`, project(g, w, a, x, 'v_proj'));
    });
  }
}

/** What a decoder step reads and writes besides the weights. */
export interface DecoderState {
  /** i32 [N, 1]: each row's input token. */
  ids: Value;
  /** u32 [1]: the cache row of this token (= the number of tokens before it). */
  position: Value;
  /** u32 [1]: position + 1, the cache rows attention reads. */
  kvLength: Value;
  /** Per layer, [N, capacity, D]: the cache this step appends to and attends over. */
  k: Value[];
  v: Value[];
  /** Beam search: the previous step's caches and, per row, the row it continues (i32 [N]). */
  reorder?: { k: Value[]; v: Value[]; sources: Value };
  /** Per decoder layer [B, Ts, D], from the encoder, and the sources' key mask u32 [B, Ts]. */
  crossK: Value[];
  crossV: Value[];
  sourceMask: Value;
}

/**
 * One decoder step for N = B × beams rows → logits [N, V]. With `onCrossProbs`, each layer's
 * cross-attention also returns its probabilities [B, heads, beams, Ts], handed to the callback
 * (e.g. to make them graph outputs).
 */
export function buildDecoderStep(
  g: GraphBuilder,
  c: MarianConfig,
  w: WeightOf,
  s: DecoderState,
  beams: number,
  onCrossProbs?: (layer: number, probs: Value) => void,
): Value {
  const N = s.ids.shape[0]!;
  const B = N / beams;
  const D = c.dim;
  const scale = c.scaleEmbedding ? Math.sqrt(D) : 1;
  const heads = { numHeads: c.decoderHeads, headDim: D / c.decoderHeads };
  const crossHeads = { ...heads, returnProbs: onCrossProbs !== undefined };
  let x = g.embedding(s.ids, w('decoder.embed'), { positions: w('decoder.positions'), position: s.position, scale, name: 'embed' });
  for (let i = 0; i < c.decoderLayers; i++) {
    const p = `model.decoder.layers.${i}`;
    x = g.scope(`decoder.${i}`, () => {
      // masked self-attention over the cache (one query: every cached row is in its past)
      const a = `${p}.self_attn`;
      if (s.reorder) {
        g.apply(cacheGatherOp, { src: s.reorder.k[i], dst: s.k[i], index: s.reorder.sources, rows: s.position }, {}, 'k_reorder');
        g.apply(cacheGatherOp, { src: s.reorder.v[i], dst: s.v[i], index: s.reorder.sources, rows: s.position }, {}, 'v_reorder');
      }
      const [q, k, v] = (['q_proj', 'k_proj', 'v_proj'] as const).map((proj) => project(g, w, a, x, proj));
      g.cacheWrite(k!, s.k[i]!, s.position, 'k_cache_write');
      g.cacheWrite(v!, s.v[i]!, s.position, 'v_cache_write');
      const self = g.attention(q!, s.k[i]!, s.v[i]!, heads, { kvLength: s.kvLength }).out;
      let h = attentionOutput(g, w, a, `${p}.self_attn_layer_norm`, self, x);
      // cross-attention: the beams of a source are that source's queries
      const e = `${p}.encoder_attn`;
      const q2 = g.reshape(project(g, w, e, h, 'q_proj'), [B, beams, D], 'cross_q');
      const crossAttention = g.attention(q2, s.crossK[i]!, s.crossV[i]!, crossHeads, { keyMask: s.sourceMask });
      if (onCrossProbs) onCrossProbs(i, crossAttention.probs!);
      const cross = crossAttention.out;
      h = attentionOutput(g, w, e, `${p}.encoder_attn_layer_norm`, g.reshape(cross, [N, 1, D], 'cross_out'), h);
      return feedForward(g, c, w, p, h);
    });
  }
  const logits = g.matmul(x, w('head'), { transposeB: true, bias: w('logits_bias'), name: 'lm_head' });
  return g.reshape(logits, [N, c.decoderVocabSize], 'logits');
}
