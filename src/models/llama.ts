/**
 * Llama (Hugging Face `LlamaForCausalLM`, and llama2.c checkpoints, which the llama2.c loader
 * names the same way): RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP, tied or
 * untied LM head.
 *
 * At load time q|k|v and gate|up are stacked into one weight each, so a block runs two fewer
 * matmuls; attention splits the fused q|k|v itself and a swiglu kernel the gate|up. The graph
 * is the plain one: when one token of a small model is decoded, the compiler's fusion pass
 * folds the RMSNorms and the gate into the projections (fusedMatvecOp) and the output
 * projection into attention, which leaves four dispatches per block. (The smallest models
 * decode with no graph at all: LanguageModel runs their whole step as one kernel,
 * llamaDecodeStepOp, from these same prepared weights; this graph is their fallback,
 * `fusedDecode: false`.) Hugging Face stores
 * q_proj and k_proj rows permuted for its rotate-half RoPE; Tessera rotates adjacent pairs (as
 * Meta and llama2.c do), so those rows are permuted back here.
 */

import { CheckpointError, jsonForMessage } from './errors.ts';
import { checkLayerCount, type ExpectedTensor, type HostTensor } from './checkpoint.ts';
import type { Llama2cConfig } from './llama2c.ts';
import { swigluOp } from '../ops/swiglu.ts';
import { cachedAttention, stackRows, type LmConfig, type ModelFamily } from './decoder.ts';

type Json = Record<string, unknown>;

function int(json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CheckpointError(`Llama config.json: '${key}' must be a positive integer, got ${jsonForMessage(json[key])}`);
  }
  return value;
}

/** Read a Hugging Face Llama `config.json`. */
export function llamaConfig(json: Json): LmConfig {
  for (const flag of ['attention_bias', 'mlp_bias'] as const) {
    if (json[flag] === true) throw new CheckpointError(`Llama config.json: '${flag}' = true is not supported`);
  }
  if (json.rope_scaling != null) throw new CheckpointError(`Llama config.json: rope_scaling ${jsonForMessage(json.rope_scaling)} is not supported`);
  if (json.hidden_act !== undefined && json.hidden_act !== 'silu') throw new CheckpointError(`Llama config.json: hidden_act ${typeof json.hidden_act === 'string' ? `'${json.hidden_act}'` : jsonForMessage(json.hidden_act)} is not supported (silu)`);
  const dim = int(json, 'hidden_size');
  const numHeads = int(json, 'num_attention_heads');
  const numKVHeads = int(json, 'num_key_value_heads', numHeads);
  if (numHeads % numKVHeads !== 0) throw new CheckpointError(`Llama config.json: num_attention_heads ${numHeads} does not divide by num_key_value_heads ${numKVHeads}`);
  const vocabSize = int(json, 'vocab_size');
  const bos = typeof json.bos_token_id === 'number' ? json.bos_token_id : 1;
  const eos = [json.eos_token_id ?? 2].flat().filter((id): id is number => typeof id === 'number' && id < vocabSize);
  return {
    family: 'llama',
    vocabSize,
    dim,
    numLayers: checkLayerCount(int(json, 'num_hidden_layers'), "Llama config.json: 'num_hidden_layers'"),
    numHeads,
    numKVHeads,
    headDim: int(json, 'head_dim', dim / numHeads),
    hiddenDim: int(json, 'intermediate_size'),
    contextLength: int(json, 'max_position_embeddings'),
    eps: typeof json.rms_norm_eps === 'number' ? json.rms_norm_eps : 1e-6,
    activation: 'gelu_tanh',
    ropeTheta: typeof json.rope_theta === 'number' ? json.rope_theta : 10000,
    rotateHalfCheckpoint: true,
    tiedEmbeddings: json.tie_word_embeddings === true,
    bos: bos < vocabSize ? bos : undefined,
    startId: bos < vocabSize ? bos : undefined,
    stopIds: eos,
  };
}

/** The configuration of a llama2.c checkpoint: its header plus run.c's constants. */
export function llama2cLmConfig(c: Llama2cConfig): LmConfig {
  const BOS = 1;
  return {
    family: 'llama',
    vocabSize: c.vocabSize,
    dim: c.dim,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKVHeads: c.numKVHeads,
    headDim: c.headDim,
    hiddenDim: c.hiddenDim,
    contextLength: c.seqLen,
    eps: 1e-5,
    activation: 'gelu_tanh',
    ropeTheta: 10000,
    rotateHalfCheckpoint: false,
    tiedEmbeddings: c.tiedEmbeddings,
    bos: BOS,
    startId: BOS,
    stopIds: [BOS], // run.c stops when the model emits BOS (the start of a new story)
  };
}

/**
 * Hugging Face rotate-half rows → adjacent-pair rows, per head of `headDim` rows:
 * adjacent row 2i + j (j ∈ {0, 1}) is HF row j·headDim/2 + i.
 */
export function rotateHalfToAdjacent(w: HostTensor, headDim: number): HostTensor {
  const [rows, cols] = w.shape as [number, number];
  const half = headDim / 2;
  const data = new Float32Array(rows * cols);
  for (let head = 0; head < rows / headDim; head++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = head * headDim + j * half + i;
        const to = head * headDim + 2 * i + j;
        data.set(w.data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return { shape: [rows, cols], data };
}

export const llama: ModelFamily = {
  expected(c) {
    const { dim: D, hiddenDim: F } = c;
    const qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim;
    const tensors: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, D] }];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      tensors.push(
        { name: `${p}input_layernorm.weight`, shape: [D] },
        { name: `${p}self_attn.q_proj.weight`, shape: [qDim, D] },
        { name: `${p}self_attn.k_proj.weight`, shape: [kvDim, D] },
        { name: `${p}self_attn.v_proj.weight`, shape: [kvDim, D] },
        { name: `${p}self_attn.o_proj.weight`, shape: [D, qDim] },
        { name: `${p}post_attention_layernorm.weight`, shape: [D] },
        { name: `${p}mlp.gate_proj.weight`, shape: [F, D] },
        { name: `${p}mlp.up_proj.weight`, shape: [F, D] },
        { name: `${p}mlp.down_proj.weight`, shape: [D, F] },
      );
    }
    tensors.push({ name: 'model.norm.weight', shape: [D] });
    tensors.push({ name: 'lm_head.weight', shape: [c.vocabSize, D], optional: c.tiedEmbeddings });
    return tensors;
  },

  // Hugging Face saves rotary caches in some older checkpoints; they are recomputed, not loaded.
  matchOptions: { ignore: ['*.rotary_emb.inv_freq'] },

  prepare(c, t) {
    const get = (name: string) => t.get(name)!;
    const rope = (w: HostTensor) => (c.rotateHalfCheckpoint ? rotateHalfToAdjacent(w, c.headDim) : w);
    const weights = new Map<string, HostTensor>([
      ['embed', get('model.embed_tokens.weight')],
      ['norm', get('model.norm.weight')],
      ['lm_head', c.tiedEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight')],
    ]);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      weights.set(`${i}.attn_norm`, get(`${p}input_layernorm.weight`));
      weights.set(`${i}.qkv`, stackRows([rope(get(`${p}self_attn.q_proj.weight`)), rope(get(`${p}self_attn.k_proj.weight`)), get(`${p}self_attn.v_proj.weight`)]));
      weights.set(`${i}.o`, get(`${p}self_attn.o_proj.weight`));
      weights.set(`${i}.mlp_norm`, get(`${p}post_attention_layernorm.weight`));
      weights.set(`${i}.gate_up`, stackRows([get(`${p}mlp.gate_proj.weight`), get(`${p}mlp.up_proj.weight`)]));
      weights.set(`${i}.down`, get(`${p}mlp.down_proj.weight`));
    }
    return weights;
  },

  build(g, c, w, ids, cache, head) {
    let x = g.embedding(ids, w('embed'), { name: 'embed' });
    for (let i = 0; i < c.numLayers; i++) {
      x = g.scope(`layers.${i}`, () => {
        const qkv = g.matmul(g.rmsNorm(x, w(`${i}.attn_norm`), c.eps, 'attn_norm'), w(`${i}.qkv`), { transposeB: true, name: 'qkv' });
        const r = g.matmul(cachedAttention(g, c, qkv, cache, i, c.ropeTheta), w(`${i}.o`), { transposeB: true, residual: x, name: 'o' });
        const gateUp = g.matmul(g.rmsNorm(r, w(`${i}.mlp_norm`), c.eps, 'mlp_norm'), w(`${i}.gate_up`), { transposeB: true, name: 'gate_up' });
        const gated = g.apply(swigluOp, { x: gateUp }, {}, 'swiglu').out!;
        return g.matmul(gated, w(`${i}.down`), { transposeB: true, residual: r, name: 'down' });
      });
    }
    const hidden = g.rmsNorm(x, w('norm'), c.eps, 'norm');
    return head ? g.matmul(hidden, w('lm_head'), { transposeB: true, name: 'lm_head' }) : hidden;
  },
};
