/**
 * llama2.c checkpoints (karpathy/llama2.c, legacy "version 0" export, as read by run.c):
 *   7 little-endian int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *   (vocab_size < 0 means the classifier is NOT tied to the token embedding), then float32 arrays
 *   in PyTorch (out, in) layout:
 *     token_embedding [vocab, dim]   rms_att [L, dim]   wq [L, dim, dim]   wk [L, kv_dim, dim]
 *     wv [L, kv_dim, dim]   wo [L, dim, dim]   rms_ffn [L, dim]   w1 [L, hidden, dim]
 *     w2 [L, dim, hidden]   w3 [L, hidden, dim]   rms_final [dim]
 *     freq_cis_real, freq_cis_imag [seq_len, head_dim / 2]   (legacy RoPE tables, skipped)
 *     wcls [vocab, dim]   (only when untied)
 *
 * Tensors get Hugging Face Llama names, one per layer. One difference from Hugging Face: q_proj and
 * k_proj stay in llama2.c's (Meta's) layout, where RoPE rotates ADJACENT pairs of dimensions in each
 * head; Hugging Face's converter permutes these rows for its rotate-half convention.
 */

import { CheckpointError } from './errors.ts';
import type { HostTensor, TensorSource } from './checkpoint.ts';
import { asBytes, fetchBytes, readFileBytes } from './io.ts';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  numKVHeads: number;
  vocabSize: number;
  seqLen: number;
  headDim: number;
  /** True when the output classifier reuses the token embedding (no `lm_head.weight`). */
  tiedEmbeddings: boolean;
}

export class Llama2cCheckpoint implements TensorSource {
  readonly shapes: ReadonlyMap<string, readonly number[]>;

  constructor(
    readonly source: string,
    readonly config: Llama2cConfig,
    readonly tensors: ReadonlyMap<string, HostTensor>,
  ) {
    this.shapes = new Map([...tensors].map(([name, t]) => [name, t.shape]));
  }

  float32(name: string): Float32Array {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new CheckpointError(`llama2.c checkpoint '${this.source}': no tensor '${name}'`);
    return tensor.data;
  }
}

const HEADER_INTS = 7;
/** llama2.c's newer exports (version 1 and 2) start with this magic ("ak42"); run.c reads only version 0. */
const NEWER_EXPORT_MAGIC = 0x616b3432;

export function parseLlama2c(data: ArrayBuffer | ArrayBufferView, source = '<buffer>'): Llama2cCheckpoint {
  const bytes = asBytes(data);
  const fail = (message: string) => new CheckpointError(`llama2.c checkpoint '${source}': ${message}`);
  if (bytes.byteLength < HEADER_INTS * 4) throw fail(`file is ${bytes.byteLength} bytes, shorter than the 28-byte header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(i * 4, true));
  if (header[0] === NEWER_EXPORT_MAGIC) {
    throw fail(`this is a newer llama2.c export (version ${header[1]}); only the legacy version-0 format that run.c reads is supported (re-export with --version 0)`);
  }
  const [dim, hiddenDim, numLayers, numHeads, numKVHeads, signedVocab, seqLen] = header as [number, number, number, number, number, number, number];
  const vocabSize = Math.abs(signedVocab);
  const config: Llama2cConfig = {
    dim, hiddenDim, numLayers, numHeads, numKVHeads, vocabSize, seqLen,
    headDim: dim / numHeads,
    tiedEmbeddings: signedVocab > 0,
  };
  const positive = { dim, hiddenDim, numLayers, numHeads, numKVHeads, vocabSize, seqLen };
  for (const [key, value] of Object.entries(positive)) {
    if (!(value > 0)) throw fail(`header field ${key} = ${value} must be positive (header ${JSON.stringify(header)}: not a llama2.c checkpoint?)`);
  }
  if (dim % numHeads !== 0 || numHeads % numKVHeads !== 0) {
    throw fail(`dim ${dim}, n_heads ${numHeads}, n_kv_heads ${numKVHeads}: dim must divide by n_heads and n_heads by n_kv_heads`);
  }
  const kvDim = (dim / numHeads) * numKVHeads;

  let offset = HEADER_INTS * 4;
  /** The next `count` float32 values, copied (the file's offset need not be 4-byte aligned). */
  const take = (what: string, count: number): Float32Array => {
    const end = offset + count * 4;
    if (end > bytes.byteLength) {
      throw fail(`truncated: '${what}' needs bytes ${offset}..${end} but the file has ${bytes.byteLength} (config ${JSON.stringify(positive)})`);
    }
    const values = new Float32Array(bytes.slice(offset, end).buffer);
    offset = end;
    return values;
  };
  const tensors = new Map<string, HostTensor>();
  /** A stacked [L, ...shape] array, split into one tensor per layer. */
  const perLayer = (what: string, name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const stacked = take(what, numLayers * size);
    for (let l = 0; l < numLayers; l++) {
      tensors.set(`model.layers.${l}.${name}`, { shape, data: stacked.subarray(l * size, (l + 1) * size) });
    }
  };

  tensors.set('model.embed_tokens.weight', { shape: [vocabSize, dim], data: take('token_embedding_table', vocabSize * dim) });
  perLayer('rms_att_weight', 'input_layernorm.weight', [dim]);
  perLayer('wq', 'self_attn.q_proj.weight', [dim, dim]);
  perLayer('wk', 'self_attn.k_proj.weight', [kvDim, dim]);
  perLayer('wv', 'self_attn.v_proj.weight', [kvDim, dim]);
  perLayer('wo', 'self_attn.o_proj.weight', [dim, dim]);
  perLayer('rms_ffn_weight', 'post_attention_layernorm.weight', [dim]);
  perLayer('w1', 'mlp.gate_proj.weight', [hiddenDim, dim]);
  perLayer('w2', 'mlp.down_proj.weight', [dim, hiddenDim]);
  perLayer('w3', 'mlp.up_proj.weight', [hiddenDim, dim]);
  tensors.set('model.norm.weight', { shape: [dim], data: take('rms_final_weight', dim) });
  take('freq_cis_real and freq_cis_imag (legacy RoPE tables)', seqLen * (dim / numHeads));
  if (!config.tiedEmbeddings) tensors.set('lm_head.weight', { shape: [vocabSize, dim], data: take('wcls (untied classifier)', vocabSize * dim) });
  if (offset !== bytes.byteLength) {
    throw fail(`${bytes.byteLength - offset} bytes left over after all tensors (expected ${offset} bytes for config ${JSON.stringify(positive)}, tied=${config.tiedEmbeddings}): wrong format?`);
  }
  return new Llama2cCheckpoint(source, config, tensors);
}

/** Node: read and parse a llama2.c `.bin` checkpoint by path. */
export async function loadLlama2c(path: string): Promise<Llama2cCheckpoint> {
  return parseLlama2c(await readFileBytes(path), path);
}

/** Browser or Node: fetch and parse a llama2.c `.bin` checkpoint. */
export async function fetchLlama2c(url: string | URL, init?: RequestInit): Promise<Llama2cCheckpoint> {
  return parseLlama2c(await fetchBytes(url, init), String(url));
}
