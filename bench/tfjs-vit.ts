// ViT's forward pass written with TensorFlow.js ops, the baseline bench/vit.ts compares Tessera
// against. Same math as Hugging Face's ViTForImageClassification (patch Conv2d, [CLS] + learned
// positions, pre-LayerNorm blocks, nn.Linear weights stored [out, in], erf GELU, final LayerNorm,
// classifier on [CLS]); weights come from the same host arrays Tessera loads.
import type * as TF from '@tensorflow/tfjs-core';

export interface VitShape {
  imageSize: number;
  patchSize: number;
  channels: number;
  dim: number;
  layers: number;
  heads: number;
  eps: number;
}

/** Weights by Hugging Face name ('vit.embeddings.cls_token', 'vit.encoder.layer.0.attention.attention.query.weight', ...). */
export type HostWeights = Record<string, { data: Float32Array; shape: number[] }>;

export class TfjsVit {
  private readonly w = new Map<string, TF.Tensor>();

  constructor(private readonly tf: typeof TF, private readonly shape: VitShape, weights: HostWeights) {
    for (const [name, { data, shape: dims }] of Object.entries(weights)) {
      let t = tf.tensor(data, dims);
      if (dims.length === 2) {
        // nn.Linear [out, in] → [in, out], so every projection is a plain x·W.
        const transposed = tf.transpose(t);
        t.dispose();
        t = transposed;
      } else if (name.endsWith('projection.weight')) {
        // Conv2d [D, C, p, p] → tfjs's [p, p, C, D] filter layout.
        const transposed = tf.transpose(t, [2, 3, 1, 0]);
        t.dispose();
        t = transposed;
      }
      this.w.set(name, t);
    }
  }

  private get(name: string): TF.Tensor {
    const t = this.w.get(name);
    if (!t) throw new Error(`tfjs ViT: no weight '${name}'`);
    return t;
  }

  private layerNorm(x: TF.Tensor, prefix: string): TF.Tensor {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, this.shape.eps))), this.get(`${prefix}.weight`)), this.get(`${prefix}.bias`));
  }

  /** x [rows, in] · W + b, with W already [in, out]. */
  private linear(x: TF.Tensor, prefix: string): TF.Tensor {
    const y = this.tf.matMul(x as TF.Tensor2D, this.get(`${prefix}.weight`) as TF.Tensor2D);
    return this.w.has(`${prefix}.bias`) ? this.tf.add(y, this.get(`${prefix}.bias`)) : y;
  }

  /** Exact GELU, 0.5·x·(1 + erf(x/√2)): tfjs-core has erf but no GELU op. */
  private gelu(x: TF.Tensor): TF.Tensor {
    const tf = this.tf;
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
  }

  /** Logits [B, labels] for normalised pixels [B, C, H, W] (NCHW, as Tessera takes them), left on the GPU. */
  forward(pixels: Float32Array, batch: number): TF.Tensor2D {
    const tf = this.tf;
    const { imageSize: S, patchSize: p, channels: C, dim: D, heads: H } = this.shape;
    const N = (S / p) ** 2, T = N + 1, hd = D / H;
    return tf.tidy(() => {
      const nhwc = tf.transpose(tf.tensor4d(pixels, [batch, C, S, S]), [0, 2, 3, 1]) as TF.Tensor4D;
      const e = 'vit.embeddings.';
      const patches = tf.add(tf.conv2d(nhwc, this.get(`${e}patch_embeddings.projection.weight`) as TF.Tensor4D, p, 'valid'), this.get(`${e}patch_embeddings.projection.bias`));
      const cls = tf.tile(this.get(`${e}cls_token`), [batch, 1, 1]);
      let x: TF.Tensor = tf.add(tf.concat([cls, tf.reshape(patches, [batch, N, D])], 1), this.get(`${e}position_embeddings`));
      x = tf.reshape(x, [batch * T, D]);
      const toHeads = (t: TF.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [batch, T, H, hd]), [0, 2, 1, 3]), [batch * H, T, hd]) as TF.Tensor3D;
      for (let l = 0; l < this.shape.layers; l++) {
        const P = `vit.encoder.layer.${l}.`;
        const h = this.layerNorm(x, `${P}layernorm_before`);
        const [q, k, v] = ['query', 'key', 'value'].map((n) => toHeads(this.linear(h, `${P}attention.attention.${n}`)));
        const scores = tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(hd));
        const attended = tf.matMul(tf.softmax(scores) as TF.Tensor3D, v!);
        const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, H, T, hd]), [0, 2, 1, 3]), [batch * T, D]);
        x = tf.add(x, this.linear(merged, `${P}attention.output.dense`));
        const up = this.gelu(this.linear(this.layerNorm(x, `${P}layernorm_after`), `${P}intermediate.dense`));
        x = tf.add(x, this.linear(up, `${P}output.dense`));
      }
      const clsRows = tf.reshape(tf.slice(tf.reshape(x, [batch, T, D]), [0, 0, 0], [batch, 1, D]), [batch, D]);
      return this.linear(this.layerNorm(clsRows, 'vit.layernorm'), 'classifier') as TF.Tensor2D;
    });
  }

  dispose(): void {
    for (const t of this.w.values()) t.dispose();
  }
}
