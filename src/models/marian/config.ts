/**
 * Marian (Hugging Face `MarianMTModel`, the architecture of the OPUS-MT translators): the
 * configuration, read from a `config.json` with HF's key names, and the tensors a checkpoint holds.
 * The generation defaults (beams, lengths, bad words, forced EOS, the decoder start token) are not
 * part of it: generation.ts reads them as HF does, from `generation_config.json` when the folder
 * has one.
 *
 * The network is the original encoder-decoder Transformer: token embeddings scaled by √d_model
 * plus static sinusoidal positions, post-LayerNorm blocks (LN(x + sublayer(x))), an encoder
 * without a final norm, a decoder with self-attention, cross-attention and an MLP per block, and
 * an LM head tied to the embedding plus a `final_logits_bias`.
 */

import type { Activation } from '../../ops/activation.ts';
import { checkLayerCount, type ExpectedTensor, type HostTensor } from '../checkpoint.ts';
import { CheckpointError, jsonForMessage } from '../errors.ts';

export interface MarianConfig {
  /** Source vocabulary (the shared one when the embeddings are shared). */
  vocabSize: number;
  /** Target vocabulary: rows of the LM head and of final_logits_bias. */
  decoderVocabSize: number;
  dim: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderHeads: number;
  decoderHeads: number;
  encoderFfnDim: number;
  decoderFfnDim: number;
  activation: Exclude<Activation, 'none'>;
  /** Rows of the sinusoidal position table: the longest source, and the most decoder positions. */
  maxPositions: number;
  /** Multiply token embeddings by √dim. */
  scaleEmbedding: boolean;
  /** One embedding for encoder, decoder and head (all OPUS-MT models); else one per side. */
  sharedEmbeddings: boolean;
  /** LM head = the (decoder's) embedding; else `lm_head.weight` is its own tensor. */
  tiedHead: boolean;
  /** Fills the sources' padding (masked out of attention). */
  padId: number;
  /** The id sources end with. */
  eosId: number;
}

type Json = Record<string, unknown>;

const ACTIVATIONS: Record<string, MarianConfig['activation']> = {
  swish: 'silu', silu: 'silu', relu: 'relu', gelu: 'gelu_erf', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh',
};

function int(json: Json, key: string, fallback?: number, min = 1): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new CheckpointError(`Marian config.json: '${key}' must be an integer ≥ ${min}, got ${jsonForMessage(json[key])}`);
  }
  return value;
}

function id(json: Json, key: string, vocab: number, fallback?: number): number {
  const value = int(json, key, fallback, 0);
  if (value >= vocab) throw new CheckpointError(`Marian config.json: '${key}' ${value} is outside the vocabulary of ${vocab}`);
  return value;
}

/** Read a Hugging Face Marian `config.json`; unsupported variants are refused by name. */
export function marianConfig(json: Json): MarianConfig {
  if (json.model_type !== undefined && json.model_type !== 'marian') {
    throw new CheckpointError(`config.json: model_type ${jsonForMessage(json.model_type)} is not a Marian model ('marian')`);
  }
  for (const flag of ['normalize_before', 'add_final_layer_norm', 'normalize_embedding', 'layernorm_embedding'] as const) {
    if (json[flag] === true) throw new CheckpointError(`Marian config.json: '${flag}' = true is not supported (Marian blocks are post-LayerNorm, without embedding norms)`);
  }
  const act = (json.activation_function as string | undefined) ?? 'swish';
  const activation = typeof act === 'string' && Object.hasOwn(ACTIVATIONS, act) ? ACTIVATIONS[act] : undefined;
  if (!activation) throw new CheckpointError(`Marian config.json: activation_function ${typeof act === 'string' ? `'${act}'` : jsonForMessage(act)} is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
  const vocabSize = int(json, 'vocab_size');
  const sharedEmbeddings = json.share_encoder_decoder_embeddings !== false;
  const decoderVocabSize = json.decoder_vocab_size == null ? vocabSize : int(json, 'decoder_vocab_size');
  if (sharedEmbeddings && decoderVocabSize !== vocabSize) {
    throw new CheckpointError(`Marian config.json: shared embeddings need decoder_vocab_size (${decoderVocabSize}) = vocab_size (${vocabSize})`);
  }
  const dim = int(json, 'd_model');
  const encoderHeads = int(json, 'encoder_attention_heads');
  const decoderHeads = int(json, 'decoder_attention_heads');
  for (const [key, heads] of [['encoder_attention_heads', encoderHeads], ['decoder_attention_heads', decoderHeads]] as const) {
    if (dim % heads !== 0) throw new CheckpointError(`Marian config.json: d_model ${dim} does not divide by ${key} ${heads}`);
  }
  const padId = id(json, 'pad_token_id', decoderVocabSize);
  const eosId = id(json, 'eos_token_id', decoderVocabSize);
  const maxPositions = int(json, 'max_position_embeddings');
  return {
    vocabSize,
    decoderVocabSize,
    dim,
    encoderLayers: checkLayerCount(int(json, 'encoder_layers'), "Marian config.json: 'encoder_layers'"),
    decoderLayers: checkLayerCount(int(json, 'decoder_layers'), "Marian config.json: 'decoder_layers'"),
    encoderHeads,
    decoderHeads,
    encoderFfnDim: int(json, 'encoder_ffn_dim'),
    decoderFfnDim: int(json, 'decoder_ffn_dim'),
    activation,
    maxPositions,
    scaleEmbedding: json.scale_embedding === true,
    sharedEmbeddings,
    tiedHead: json.tie_word_embeddings !== false,
    padId,
    eosId,
  };
}

const ENCODER_EMBED = 'model.encoder.embed_tokens.weight';
const DECODER_EMBED = 'model.decoder.embed_tokens.weight';
const SHARED = 'model.shared.weight';
const HEAD = 'lm_head.weight';
const POSITIONS = ['model.encoder.embed_positions.weight', 'model.decoder.embed_positions.weight'] as const;

/** Names and shapes a Marian checkpoint holds (HF `MarianMTModel` naming). */
export function marianExpected(c: MarianConfig): ExpectedTensor[] {
  const { dim: D } = c;
  // HF ties the shared embedding, both embed_tokens and lm_head; a save keeps one or more of them.
  const tensors: ExpectedTensor[] = c.sharedEmbeddings
    ? [SHARED, ENCODER_EMBED, DECODER_EMBED].map((name) => ({ name, shape: [c.vocabSize, D], optional: true }))
    : [{ name: ENCODER_EMBED, shape: [c.vocabSize, D] }, { name: DECODER_EMBED, shape: [c.decoderVocabSize, D] }, { name: SHARED, shape: [c.vocabSize, D], optional: true }];
  tensors.push({ name: HEAD, shape: [c.decoderVocabSize, D], optional: c.tiedHead });
  tensors.push({ name: 'final_logits_bias', shape: [1, c.decoderVocabSize] });
  // Static sinusoidal tables: computed here, but older saves hold them.
  for (const name of POSITIONS) tensors.push({ name, shape: [c.maxPositions, D], optional: true });
  const linear = (p: string, out: number, inp: number) => tensors.push({ name: `${p}.weight`, shape: [out, inp] }, { name: `${p}.bias`, shape: [out] });
  const norm = (p: string) => tensors.push({ name: `${p}.weight`, shape: [D] }, { name: `${p}.bias`, shape: [D] });
  const attention = (p: string) => {
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}.${proj}`, D, D);
  };
  for (let i = 0; i < c.encoderLayers; i++) {
    const p = `model.encoder.layers.${i}`;
    attention(`${p}.self_attn`);
    norm(`${p}.self_attn_layer_norm`);
    linear(`${p}.fc1`, c.encoderFfnDim, D);
    linear(`${p}.fc2`, D, c.encoderFfnDim);
    norm(`${p}.final_layer_norm`);
  }
  for (let i = 0; i < c.decoderLayers; i++) {
    const p = `model.decoder.layers.${i}`;
    attention(`${p}.self_attn`);
    norm(`${p}.self_attn_layer_norm`);
    attention(`${p}.encoder_attn`);
    norm(`${p}.encoder_attn_layer_norm`);
    linear(`${p}.fc1`, c.decoderFfnDim, D);
    linear(`${p}.fc2`, D, c.decoderFfnDim);
    norm(`${p}.final_layer_norm`);
  }
  return tensors;
}

/**
 * Marian's static positions (HF `MarianSinusoidalPositionalEmbedding`): for position p and
 * j < D/2, column j holds sin(p / 10000^(2j/D)) and column D/2 + j holds cos of the same angle
 * (sin in the first half, cos in the second, not interleaved). Computed in double, stored as f32.
 */
export function sinusoidalPositions(rows: number, dim: number): HostTensor {
  const data = new Float32Array(rows * dim);
  const half = Math.ceil(dim / 2);
  for (let p = 0; p < rows; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p / 10000 ** ((2 * j) / dim);
      data[p * dim + j] = Math.sin(angle);
      if (half + j < dim) data[p * dim + half + j] = Math.cos(angle);
    }
  }
  return { shape: [rows, dim], data };
}

/**
 * The weights as the graphs use them: 'encoder.embed', 'decoder.embed', 'head' (the same
 * HostTensor when tied), 'logits_bias' [V], 'encoder.positions', 'decoder.positions' (a saved
 * table when the checkpoint has one, as HF would load it; else computed), and every layer tensor
 * under its checkpoint name.
 */
export function marianPrepare(c: MarianConfig, tensors: ReadonlyMap<string, HostTensor>, source: string): Map<string, HostTensor> {
  const weights = new Map<string, HostTensor>();
  for (const [name, t] of tensors) if (name.startsWith('model.encoder.layers.') || name.startsWith('model.decoder.layers.')) weights.set(name, t);
  let encoderEmbed: HostTensor | undefined, decoderEmbed: HostTensor | undefined;
  if (c.sharedEmbeddings) {
    const candidates = [SHARED, ENCODER_EMBED, DECODER_EMBED, ...(c.tiedHead ? [HEAD] : [])];
    const shared = candidates.map((n) => tensors.get(n)).find((t) => t !== undefined);
    if (!shared) throw new CheckpointError(`${source}: no shared embedding: expected one of ${candidates.map((n) => `'${n}'`).join(', ')} with shape [${c.vocabSize}, ${c.dim}]`);
    encoderEmbed = decoderEmbed = shared;
  } else {
    encoderEmbed = tensors.get(ENCODER_EMBED)!;
    decoderEmbed = tensors.get(DECODER_EMBED)!;
  }
  weights.set('encoder.embed', encoderEmbed);
  weights.set('decoder.embed', decoderEmbed);
  // A tied head reuses the embedding (a stored lm_head.weight is a copy of it).
  weights.set('head', c.tiedHead ? decoderEmbed : tensors.get(HEAD)!);
  const bias = tensors.get('final_logits_bias')!;
  weights.set('logits_bias', { shape: [c.decoderVocabSize], data: bias.data });
  const computed = sinusoidalPositions(c.maxPositions, c.dim);
  weights.set('encoder.positions', tensors.get(POSITIONS[0]) ?? computed);
  weights.set('decoder.positions', tensors.get(POSITIONS[1]) ?? computed);
  return weights;
}
