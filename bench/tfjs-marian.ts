// Marian's forward pass written with TensorFlow.js ops, the baseline bench/marian.ts compares
// Tessera's encoder against. Same math as Hugging Face's MarianMTModel (embeddings × √d plus
// sinusoidal positions, post-LayerNorm blocks, key-padding masks, tied head + final_logits_bias);
// weights come from the same host arrays Tessera loads. `encode` runs the encoder on a batch;
// `logits` adds a teacher-forced decoder (no cache), used to check the forward on PyTorch's logits.
//
// WebGPU binds at most 128 MiB per buffer and a 58k × 512 embedding is 119 MB: it fits, so unlike
// GPT-2's there is no split here.
import type * as TF from '@tensorflow/tfjs-core';

export interface MarianShape {
  vocab: number;
  dim: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderHeads: number;
  decoderHeads: number;
  scaleEmbedding: boolean;
  /** HF activation name: swish/silu, relu, gelu (erf). */
  activation: string;
}

/** Weights by Hugging Face name ('model.shared.weight', 'model.encoder.layers.0.fc1.weight', ...), plus 'positions'. */
export type HostWeights = Record<string, { data: Float32Array; shape: number[] }>;

export class TfjsMarian {
  private readonly w = new Map<string, TF.Tensor>();

  constructor(private readonly tf: typeof TF, private readonly shape: MarianShape, weights: HostWeights) {
    for (const [name, { data, shape: dims }] of Object.entries(weights)) this.w.set(name, tf.tensor(data, dims));
  }

  private get(name: string): TF.Tensor {
    const t = this.w.get(name);
    if (!t) throw new Error(`tfjs Marian: no weight '${name}'`);
    return t;
  }

  private layerNorm(x: TF.Tensor, prefix: string): TF.Tensor {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-5))), this.get(`${prefix}.weight`)), this.get(`${prefix}.bias`));
  }

  /** nn.Linear on rows: x [rows, in] · Wᵀ + b. */
  private linear(x: TF.Tensor, prefix: string): TF.Tensor2D {
    return this.tf.add(this.tf.matMul(x as TF.Tensor2D, this.get(`${prefix}.weight`) as TF.Tensor2D, false, true), this.get(`${prefix}.bias`)) as TF.Tensor2D;
  }

  private act(x: TF.Tensor): TF.Tensor {
    const tf = this.tf;
    const a = this.shape.activation;
    if (a === 'swish' || a === 'silu') return tf.mul(x, tf.sigmoid(x));
    if (a === 'relu') return tf.relu(x);
    if (a === 'gelu') return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    throw new Error(`tfjs Marian: activation '${a}' is not written here`);
  }

  /** Rows of a batch [B, T, D] as [B·T, D] and back, for the linears. */
  private embed(ids: Int32Array, B: number, T: number): TF.Tensor2D {
    const tf = this.tf;
    const { dim: D } = this.shape;
    const tokens = tf.mul(tf.gather(this.get('model.shared.weight'), tf.tensor1d(ids, 'int32')), this.shape.scaleEmbedding ? Math.sqrt(D) : 1);
    const positions = tf.tile(tf.slice(this.get('positions'), [0, 0], [T, D]), [B, 1]);
    return tf.add(tokens, positions) as TF.Tensor2D;
  }

  /** Multi-head attention of x [B·Tq, D] over kv [B·Tk, D]; `bias` [B, 1, Tq|1, Tk] is added to the scores. */
  private attention(x: TF.Tensor2D, kv: TF.Tensor2D, p: string, heads: number, B: number, Tq: number, Tk: number, bias: TF.Tensor | null): TF.Tensor2D {
    const tf = this.tf;
    const D = this.shape.dim;
    const hd = D / heads;
    const split = (t: TF.Tensor, T: number) => tf.transpose(tf.reshape(t, [B, T, heads, hd]), [0, 2, 1, 3]) as TF.Tensor4D;
    const q = split(tf.mul(this.linear(x, `${p}.q_proj`), 1 / Math.sqrt(hd)), Tq);
    const k = split(this.linear(kv, `${p}.k_proj`), Tk);
    const v = split(this.linear(kv, `${p}.v_proj`), Tk);
    let scores: TF.Tensor = tf.matMul(q, k, false, true);
    if (bias) scores = tf.add(scores, bias);
    const out = tf.matMul(tf.softmax(scores) as TF.Tensor4D, v);
    return this.linear(tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B * Tq, D]), `${p}.out_proj`);
  }

  private feedForward(x: TF.Tensor2D, p: string): TF.Tensor2D {
    const h = this.linear(this.act(this.linear(x, `${p}.fc1`)), `${p}.fc2`);
    return this.layerNorm(this.tf.add(x, h), `${p}.final_layer_norm`) as TF.Tensor2D;
  }

  /** Additive key-padding bias [B, 1, 1, Tk]: 0 for tokens, -1e9 for padding. */
  private paddingBias(mask: Uint8Array, B: number, T: number): TF.Tensor {
    return this.tf.reshape(this.tf.mul(this.tf.sub(1, this.tf.tensor1d(Float32Array.from(mask))), -1e9), [B, 1, 1, T]);
  }

  private encoder(ids: Int32Array, mask: Uint8Array, B: number, T: number): TF.Tensor2D {
    const tf = this.tf;
    let x = this.embed(ids, B, T);
    const bias = this.paddingBias(mask, B, T);
    for (let l = 0; l < this.shape.encoderLayers; l++) {
      const p = `model.encoder.layers.${l}`;
      const a = this.attention(x, x, `${p}.self_attn`, this.shape.encoderHeads, B, T, T, bias);
      x = this.layerNorm(tf.add(x, a), `${p}.self_attn_layer_norm`) as TF.Tensor2D;
      x = this.feedForward(x, p);
    }
    return x;
  }

  /** The encoder's hidden states [B·T, D] for B sources of T tokens (mask: 1 = token, 0 = padding), left on the GPU. */
  encode(ids: Int32Array, mask: Uint8Array, B: number, T: number): TF.Tensor2D {
    return this.tf.tidy(() => this.encoder(ids, mask, B, T));
  }

  /** Teacher-forced logits [B·Td, V] for decoder inputs `dec` [B, Td]. */
  logits(ids: Int32Array, mask: Uint8Array, B: number, T: number, dec: Int32Array, Td: number): TF.Tensor2D {
    const tf = this.tf;
    return tf.tidy(() => {
      const enc = this.encoder(ids, mask, B, T);
      const crossBias = this.paddingBias(mask, B, T);
      const causal = tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([Td, Td]), -1, 0)), -1e9), [1, 1, Td, Td]);
      let x = this.embed(dec, B, Td);
      for (let l = 0; l < this.shape.decoderLayers; l++) {
        const p = `model.decoder.layers.${l}`;
        const s = this.attention(x, x, `${p}.self_attn`, this.shape.decoderHeads, B, Td, Td, causal);
        x = this.layerNorm(tf.add(x, s), `${p}.self_attn_layer_norm`) as TF.Tensor2D;
        const c = this.attention(x, enc, `${p}.encoder_attn`, this.shape.decoderHeads, B, Td, T, crossBias);
        x = this.layerNorm(tf.add(x, c), `${p}.encoder_attn_layer_norm`) as TF.Tensor2D;
        x = this.feedForward(x, p);
      }
      return tf.add(tf.matMul(x, this.get('model.shared.weight') as TF.Tensor2D, false, true), tf.reshape(this.get('final_logits_bias'), [-1])) as TF.Tensor2D;
    });
  }

  dispose(): void {
    for (const t of this.w.values()) t.dispose();
  }
}
