// GPT-2's forward pass written with TensorFlow.js ops, the baseline bench/lm.ts compares Tessera's
// prefill against. Same math as Hugging Face's GPT2LMHeadModel (pre-norm blocks, Conv1D weights
// stored [in, out], tanh GELU, tied LM head); weights come from the same host arrays Tessera loads.
//
// WebGPU binds at most 128 MiB per buffer and GPT-2's token embedding is 50257 × 768 × 4 = 154 MB, so
// it is kept as two tensors split by vocabulary: the embedding gathers from both halves and keeps the
// row from the half that holds each id, and the LM head is two matmuls whose logits are concatenated.
import type * as TF from '@tensorflow/tfjs-core';

export interface Gpt2Shape {
  vocab: number;
  context: number;
  dim: number;
  layers: number;
  heads: number;
}

/** Weights by Hugging Face name ('wte.weight', 'h.0.attn.c_attn.weight', ...). */
export type HostWeights = Record<string, { data: Float32Array; shape: number[] }>;

export class TfjsGpt2 {
  private readonly w = new Map<string, TF.Tensor>();
  private readonly split: number;

  constructor(private readonly tf: typeof TF, private readonly shape: Gpt2Shape, weights: HostWeights) {
    this.split = Math.ceil(shape.vocab / 2);
    for (const [name, { data, shape: dims }] of Object.entries(weights)) {
      if (name === 'wte.weight') {
        const [V, D] = dims as [number, number];
        this.w.set('wte.lo', tf.tensor2d(data.subarray(0, this.split * D), [this.split, D]));
        this.w.set('wte.hi', tf.tensor2d(data.subarray(this.split * D), [V - this.split, D]));
      } else {
        this.w.set(name, tf.tensor(data, dims));
      }
    }
  }

  private get(name: string): TF.Tensor {
    const t = this.w.get(name);
    if (!t) throw new Error(`tfjs GPT-2: no weight '${name}'`);
    return t;
  }

  private layerNorm(x: TF.Tensor, prefix: string): TF.Tensor {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-5))), this.get(`${prefix}.weight`)), this.get(`${prefix}.bias`));
  }

  private linear(x: TF.Tensor, prefix: string): TF.Tensor {
    return this.tf.add(this.tf.matMul(x as TF.Tensor2D, this.get(`${prefix}.weight`) as TF.Tensor2D), this.get(`${prefix}.bias`));
  }

  /** GELU, tanh approximation (GPT-2's `gelu_new`): tfjs-core has no GELU op. */
  private gelu(x: TF.Tensor): TF.Tensor {
    const tf = this.tf;
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  }

  /** Full-sequence logits [T, V] for `ids` (one sequence), left on the GPU. */
  forward(ids: Int32Array): TF.Tensor2D {
    const tf = this.tf;
    const { dim: D, heads: H, vocab: V } = this.shape;
    const T = ids.length;
    const hd = D / H;
    return tf.tidy(() => {
      const idTensor = tf.tensor1d(ids, 'int32');
      const inLo = tf.expandDims(tf.cast(tf.less(idTensor, this.split), 'float32'), 1);
      const rowsIn = (first: number, count: number) => tf.cast(tf.clipByValue(tf.sub(idTensor, tf.scalar(first, 'int32')), 0, count - 1), 'int32');
      const lo = tf.gather(this.get('wte.lo'), rowsIn(0, this.split));
      const hi = tf.gather(this.get('wte.hi'), rowsIn(this.split, V - this.split));
      const tokens = tf.add(tf.mul(lo, inLo), tf.mul(hi, tf.sub(1, inLo)));
      let x: TF.Tensor = tf.add(tokens, tf.slice(this.get('wpe.weight'), [0, 0], [T, D]));
      // Causal mask: query i sees keys 0..i.
      const causal = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9);
      const toHeads = (t: TF.Tensor) => tf.transpose(tf.reshape(t, [T, H, hd]), [1, 0, 2]) as TF.Tensor3D;
      for (let l = 0; l < this.shape.layers; l++) {
        const p = `h.${l}`;
        const qkv = this.linear(this.layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`);
        const [q, k, v] = tf.split(qkv, 3, 1) as [TF.Tensor, TF.Tensor, TF.Tensor];
        const scores = tf.add(tf.mul(tf.matMul(toHeads(q), toHeads(k), false, true), 1 / Math.sqrt(hd)), causal);
        const attended = tf.matMul(tf.softmax(scores) as TF.Tensor3D, toHeads(v));
        const merged = tf.reshape(tf.transpose(attended, [1, 0, 2]), [T, D]);
        x = tf.add(x, this.linear(merged, `${p}.attn.c_proj`));
        const up = this.gelu(this.linear(this.layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`));
        x = tf.add(x, this.linear(up, `${p}.mlp.c_proj`));
      }
      const h = this.layerNorm(x, 'ln_f') as TF.Tensor2D;
      return tf.concat([tf.matMul(h, this.get('wte.lo') as TF.Tensor2D, false, true), tf.matMul(h, this.get('wte.hi') as TF.Tensor2D, false, true)], 1) as TF.Tensor2D;
    });
  }

  dispose(): void {
    for (const t of this.w.values()) t.dispose();
  }
}
