/**
 * GPT-2 (Hugging Face `GPT2LMHeadModel`): learned positions, pre-LayerNorm blocks, fused q|k|v
 * projection, tanh-GELU MLP, LM head tied to the token embedding.
 *
 * Checkpoint quirks handled here: weights are `Conv1D`, stored [in, out] and applied as x·W (so
 * matmuls use b as stored, transposeB = false), and c_attn's columns are already q|k|v, exactly
 * the layout the qkvSplit kernel reads; names come with or without `transformer.`; the causal-mask
 * buffers `attn.bias` / `attn.masked_bias` are not weights.
 */

import { CheckpointError, jsonForMessage } from './errors.ts';
import { checkLayerCount, type ExpectedTensor } from './checkpoint.ts';
import { cachedAttention, type LmConfig, type ModelFamily } from './decoder.ts';

type Json = Record<string, unknown>;

function int(json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CheckpointError(`GPT-2 config.json: '${key}' must be a positive integer, got ${jsonForMessage(json[key])}`);
  }
  return value;
}

/** Read a Hugging Face GPT-2 `config.json`. */
export function gpt2Config(json: Json): LmConfig {
  for (const flag of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn'] as const) {
    if (json[flag] === true) throw new CheckpointError(`GPT-2 config.json: '${flag}' = true is not supported`);
  }
  if (json.scale_attn_weights === false) throw new CheckpointError("GPT-2 config.json: 'scale_attn_weights' = false is not supported");
  const act = (json.activation_function as string | undefined) ?? 'gelu_new';
  const activation = typeof act !== 'string' ? null : ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act) ? 'gelu_tanh' : act === 'gelu' ? 'gelu_erf' : null;
  if (!activation) throw new CheckpointError(`GPT-2 config.json: activation_function ${typeof act === 'string' ? `'${act}'` : jsonForMessage(act)} is not supported (gelu_new, gelu_pytorch_tanh, gelu)`);
  const dim = int(json, 'n_embd');
  const numHeads = int(json, 'n_head');
  if (dim % numHeads !== 0) throw new CheckpointError(`GPT-2 config.json: n_embd ${dim} does not divide by n_head ${numHeads}`);
  const vocabSize = int(json, 'vocab_size');
  const eos = typeof json.eos_token_id === 'number' ? json.eos_token_id : 50256;
  const endOfText = eos < vocabSize ? eos : undefined;
  return {
    family: 'gpt2',
    vocabSize,
    dim,
    numLayers: checkLayerCount(int(json, 'n_layer'), "GPT-2 config.json: 'n_layer'"),
    numHeads,
    numKVHeads: numHeads,
    headDim: dim / numHeads,
    hiddenDim: json.n_inner == null ? 4 * dim : int(json, 'n_inner'),
    contextLength: int(json, 'n_positions', json.n_ctx as number | undefined),
    eps: typeof json.layer_norm_epsilon === 'number' ? json.layer_norm_epsilon : 1e-5,
    activation,
    ropeTheta: 0,
    rotateHalfCheckpoint: false,
    tiedEmbeddings: json.tie_word_embeddings !== false,
    startId: endOfText,
    stopIds: endOfText === undefined ? [] : [endOfText],
  };
}

export const gpt2: ModelFamily = {
  expected(c) {
    const { dim: D, hiddenDim: F } = c;
    const tensors: ExpectedTensor[] = [
      { name: 'wte.weight', shape: [c.vocabSize, D] },
      { name: 'wpe.weight', shape: [c.contextLength, D] },
    ];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `h.${i}.`;
      tensors.push(
        { name: `${p}ln_1.weight`, shape: [D] }, { name: `${p}ln_1.bias`, shape: [D] },
        { name: `${p}attn.c_attn.weight`, shape: [D, 3 * D] }, { name: `${p}attn.c_attn.bias`, shape: [3 * D] },
        { name: `${p}attn.c_proj.weight`, shape: [D, D] }, { name: `${p}attn.c_proj.bias`, shape: [D] },
        { name: `${p}ln_2.weight`, shape: [D] }, { name: `${p}ln_2.bias`, shape: [D] },
        { name: `${p}mlp.c_fc.weight`, shape: [D, F] }, { name: `${p}mlp.c_fc.bias`, shape: [F] },
        { name: `${p}mlp.c_proj.weight`, shape: [F, D] }, { name: `${p}mlp.c_proj.bias`, shape: [D] },
      );
    }
    tensors.push({ name: 'ln_f.weight', shape: [D] }, { name: 'ln_f.bias', shape: [D] });
    tensors.push({ name: 'lm_head.weight', shape: [c.vocabSize, D], optional: c.tiedEmbeddings });
    return tensors;
  },

  matchOptions: { prefixes: ['transformer.'], ignore: ['*attn.bias', '*attn.masked_bias'] },

  prepare(c, tensors) {
    const weights = new Map(tensors);
    // A tied head reuses the embedding (a stored lm_head.weight is a copy of it, or stale).
    weights.set('lm_head', c.tiedEmbeddings ? tensors.get('wte.weight')! : tensors.get('lm_head.weight')!);
    weights.delete('lm_head.weight');
    return weights;
  },

  build(g, c, w, ids, cache, head) {
    let x = g.embedding(ids, w('wte.weight'), { positions: w('wpe.weight'), position: cache.position, name: 'embed' });
    for (let i = 0; i < c.numLayers; i++) {
      const p = `h.${i}.`;
      x = g.scope(`h.${i}`, () => {
        const h = g.layerNorm(x, w(`${p}ln_1.weight`), w(`${p}ln_1.bias`), c.eps, 'ln_1');
        const qkv = g.matmul(h, w(`${p}attn.c_attn.weight`), { bias: w(`${p}attn.c_attn.bias`), name: 'c_attn' });
        const attn = cachedAttention(g, c, qkv, cache, i);
        const r = g.matmul(attn, w(`${p}attn.c_proj.weight`), { bias: w(`${p}attn.c_proj.bias`), residual: x, name: 'attn.c_proj' });
        const h2 = g.layerNorm(r, w(`${p}ln_2.weight`), w(`${p}ln_2.bias`), c.eps, 'ln_2');
        const f = g.matmul(h2, w(`${p}mlp.c_fc.weight`), { bias: w(`${p}mlp.c_fc.bias`), activation: c.activation, name: 'mlp.c_fc' });
        return g.matmul(f, w(`${p}mlp.c_proj.weight`), { bias: w(`${p}mlp.c_proj.bias`), residual: r, name: 'mlp.c_proj' });
      });
    }
    const hidden = g.layerNorm(x, w('ln_f.weight'), w('ln_f.bias'), c.eps, 'ln_f');
    return head ? g.matmul(hidden, w('lm_head'), { transposeB: true, name: 'lm_head' }) : hidden;
  },
};
