/**
 * A Vision Transformer classifier on the GPU (Hugging Face `ViTForImageClassification`): an image
 * is cut into p×p patches, each patch becomes a token ("an image is worth 16×16 words"), a learned
 * [CLS] token goes in front, and a pre-LayerNorm Transformer encoder mixes them; the classifier
 * reads the [CLS] token at the end.
 *
 *   pixels [B, C, H, W]
 *   → patch embedding (Conv2d, kernel = stride = p, as patchify + matmul)  [B, N, D]
 *   → [CLS] prepended, position embeddings added                    [B, N + 1, D]
 *   → L × ( x += Wo·attention(LN₁(x));  x += W₂·GELU(W₁·LN₂(x)) )   (bidirectional attention,
 *         per head softmax(q·kᵀ/√d)·v)
 *   → [CLS] rows, final LayerNorm, classifier                        [B, labels]
 *
 * The weights are uploaded once; one graph is compiled per batch size (powers of two up to
 * `maxBatch`, padded with blank images), so B images run in one compute pass.
 */

import type { Gpu } from '../../device/gpu.ts';
import { LimitError, ShapeError } from '../../device/errors.ts';
import type { Tensor } from '../../device/tensor.ts';
import { GraphBuilder } from '../../graph/builder.ts';
import type { Value } from '../../graph/graph.ts';
import { compile } from '../../graph/compile.ts';
import { classTokenOp } from '../../ops/class-token.ts';
import { patchifyOp } from '../../ops/patchify.ts';
import { BucketedSession } from '../../runtime/buckets.ts';
import { SerialQueue } from '../../runtime/serial.ts';
import { Session } from '../../runtime/session.ts';
import { loadExpectedTensors, type HostTensor } from '../checkpoint.ts';
import { CheckpointError } from '../errors.ts';
import { fetchBytes, listDirectory, readFileBytes, readFileText } from '../io.ts';
import { parseSafetensors } from '../safetensors.ts';
import { imageProcessorConfig, VIT_IGNORED, vitConfig, vitExpectedTensors, type ImageProcessorConfig, type VitConfig } from './config.ts';
import { preprocessImage, toRgbaImage, type ImageInput } from './image.ts';
import { interpolatePositions } from './positions.ts';

export interface VitLoadOptions {
  /** Most images per compute pass (default 8); larger batches are split. */
  maxBatch?: number;
  /** Profile the first run of each batch size, for `profileTable()`. */
  profile?: boolean;
  /**
   * Run at this image size (a number, or [height, width], multiples of the patch size) instead of
   * the config's: images are resized to it and the position embeddings are interpolated
   * bicubically, as Hugging Face's `interpolate_pos_encoding=True` does.
   */
  imageSize?: number | readonly [number, number];
}

export interface VitBuffers {
  /** config.json, parsed. */
  config: Record<string, unknown>;
  /** preprocessor_config.json, parsed; absent: ViTImageProcessor's defaults at the model's image size. */
  preprocessor?: Record<string, unknown>;
  /** model.safetensors bytes. */
  weights: ArrayBuffer | ArrayBufferView;
  /** Named in error messages. */
  source?: string;
}

export interface ClassifyOptions {
  /** How many best classes to list per image (default 5, at most the number of labels). */
  topK?: number;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** One image's attention probabilities, from `attentionMaps`. */
export interface VitAttentionMaps {
  /** Per layer, Float32Array [heads, T, T] with T = 1 + patches: row i is what token i attends to; token 0 is [CLS], then the patches in raster order. */
  layers: Float32Array[];
  /** The classifier's pre-softmax logits for the same image. */
  logits: Float32Array;
  heads: number;
  tokens: number;
  /** The patch grid, rows × columns. */
  grid: [number, number];
}

export interface ClassScore {
  index: number;
  label: string;
  /** softmax probability */
  score: number;
}

/** One image's result: its best class, the `topK` best, and the raw pre-softmax logits. */
export interface Classification extends ClassScore {
  top: ClassScore[];
  logits: Float32Array;
}

const DEFAULT_MAX_BATCH = 8;

export class VisionTransformer {
  private readonly weights = new Map<string, Tensor>();
  /** Per batch size B: i32 [B], the row of each image's [CLS] token in the flattened [B·T, D] sequence. */
  private readonly clsRows = new Map<number, Tensor>();
  private readonly sessions: BucketedSession;
  private readonly profiles = new Map<number, string>();
  /** One image's graph that also outputs every layer's attention probabilities; compiled on first use. */
  private attentionSession: Promise<Session> | null = null;
  /** One call at a time, in call order (docs/runtime.md, Concurrency): sessions share their input and staging buffers. */
  private readonly queue = new SerialQueue('VisionTransformer');
  readonly maxBatch: number;

  /** The model as it runs: the checkpoint's config, at `imageSize` when one was given. */
  readonly config: VitConfig;
  /** The preprocessing as it runs (its size is the model's image size). */
  readonly preprocessor: ImageProcessorConfig;

  private constructor(
    readonly gpu: Gpu,
    trained: VitConfig,
    preprocessor: ImageProcessorConfig,
    tensors: ReadonlyMap<string, HostTensor>,
    private readonly options: VitLoadOptions,
  ) {
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new LimitError(`VisionTransformer: maxBatch must be a positive integer, got ${maxBatch}`);
    this.maxBatch = maxBatch;
    const weights = new Map(tensors);
    if (options.imageSize === undefined) {
      if (preprocessor.height !== trained.imageHeight || preprocessor.width !== trained.imageWidth) {
        throw new CheckpointError(
          `ViT: preprocessor_config.json resizes to ${preprocessor.width}×${preprocessor.height} but the model's position embeddings are for ${trained.imageWidth}×${trained.imageHeight} ` +
            '(config.json image_size); load with { imageSize } to interpolate them',
        );
      }
      this.config = trained;
      this.preprocessor = preprocessor;
    } else {
      const [height, width] = typeof options.imageSize === 'number' ? [options.imageSize, options.imageSize] : options.imageSize;
      const p = trained.patchSize;
      if (![height, width].every((s) => Number.isInteger(s) && s >= p && s % p === 0)) {
        throw new ShapeError(`VisionTransformer: imageSize ${height}×${width} must be positive multiples of the patch size ${p}`);
      }
      const name = 'vit.embeddings.position_embeddings';
      weights.set(name, interpolatePositions(tensors.get(name)!, [trained.imageHeight / p, trained.imageWidth / p], [height / p, width / p]));
      this.config = { ...trained, imageHeight: height, imageWidth: width };
      this.preprocessor = { ...preprocessor, height, width };
    }
    const config = this.config;
    try {
      for (const [name, host] of weights) this.weights.set(name, gpu.upload(queryScaled(name, host, config.headDim).data, host.shape, 'f32'));
    } catch (err) {
      for (const t of this.weights.values()) t.destroy();
      throw err;
    }
    const sizes: number[] = [];
    for (let b = 1; b < maxBatch; b *= 2) sizes.push(b);
    sizes.push(maxBatch);
    this.sessions = new BucketedSession(gpu, sizes, (batch) => this.graph(batch));
  }

  // ---- loading ------------------------------------------------------------------------------

  /** Node: a Hugging Face folder with config.json, model.safetensors and (optionally) preprocessor_config.json. */
  static async load(gpu: Gpu, folder: string, options: VitLoadOptions = {}): Promise<VisionTransformer> {
    const dir = folder.replace(/[\\/]+$/, '');
    const entries = await listDirectory(dir);
    if (entries === null) throw new CheckpointError(`ViT: '${folder}' is not a folder (expected config.json, model.safetensors, preprocessor_config.json)`);
    for (const name of ['config.json', 'model.safetensors']) {
      if (!entries.includes(name)) throw new CheckpointError(`ViT: '${dir}' has no ${name}`);
    }
    const json = async (name: string) => {
      const text = await readFileText(`${dir}/${name}`);
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new CheckpointError(`${dir}/${name}: not valid JSON (${(err as Error).message})`);
      }
    };
    const config = await json('config.json');
    const preprocessor = entries.includes('preprocessor_config.json') ? await json('preprocessor_config.json') : undefined;
    const weights = await readFileBytes(`${dir}/model.safetensors`);
    return VisionTransformer.fromBuffers(gpu, { config, preprocessor, weights, source: `${dir}/model.safetensors` }, options);
  }

  /** Browser or Node: the same three files fetched from `folderUrl` (preprocessor_config.json may be missing). */
  static async fromUrl(gpu: Gpu, folderUrl: string | URL, options: VitLoadOptions = {}): Promise<VisionTransformer> {
    const base = String(folderUrl).endsWith('/') ? String(folderUrl) : `${folderUrl}/`;
    const json = async (name: string) => JSON.parse(new TextDecoder().decode(await fetchBytes(`${base}${name}`))) as Record<string, unknown>;
    const [config, weights, preprocessor] = await Promise.all([
      json('config.json'),
      fetchBytes(`${base}model.safetensors`),
      json('preprocessor_config.json').catch((err: Error) => {
        if (/HTTP 404/.test(err.message)) return undefined;
        throw err;
      }),
    ]);
    return VisionTransformer.fromBuffers(gpu, { config, preprocessor, weights, source: `${base}model.safetensors` }, options);
  }

  /** A model from bytes and parsed JSON already in memory. */
  static async fromBuffers(gpu: Gpu, buffers: VitBuffers, options: VitLoadOptions = {}): Promise<VisionTransformer> {
    const config = vitConfig(buffers.config);
    const preprocessor = imageProcessorConfig(buffers.preprocessor ?? {}, config);
    const file = parseSafetensors(buffers.weights, buffers.source ?? 'model.safetensors');
    const tensors = loadExpectedTensors(file, vitExpectedTensors(config), { ignore: VIT_IGNORED });
    return new VisionTransformer(gpu, config, preprocessor, tensors, options);
  }

  /** Class names by index. */
  get labels(): readonly string[] {
    return this.config.labels;
  }

  // ---- the graph ----------------------------------------------------------------------------

  /** The classifier graph for `batch` images; with `attentionOutputs`, each layer's probs are outputs `attention.<i>` too. */
  private graph(batch: number, attentionOutputs = false): GraphBuilder {
    const c = this.config;
    const g = new GraphBuilder(`vit_b${batch}`);
    const values = new Map<string, Value>();
    const w = (name: string): Value | undefined => {
      const tensor = this.weights.get(name);
      if (!tensor) return undefined;
      if (!values.has(name)) values.set(name, g.constant(name, tensor));
      return values.get(name)!;
    };
    const W = (name: string): Value => {
      const value = w(name);
      if (!value) throw new Error(`ViT graph: no weight '${name}'`);
      return value;
    };
    const tokens = (c.imageHeight / c.patchSize) * (c.imageWidth / c.patchSize) + 1;

    const pixels = g.input('pixels', [batch, c.numChannels, c.imageHeight, c.imageWidth]);
    const e = 'vit.embeddings.';
    // The patch embedding (a Conv2d with stride = kernel = p) as rows of patch pixels times the weight
    // viewed as [D, C·p·p]: one matmul on the tuned kernel.
    const rows = g.apply(patchifyOp, { image: pixels }, { patchSize: c.patchSize }, 'patchify').out!;
    const conv = W(`${e}patch_embeddings.projection.weight`);
    const kernel = g.reshape(conv, [c.hiddenSize, conv.size / c.hiddenSize], 'patch_weight');
    const patches = g.matmul(rows, kernel, { bias: W(`${e}patch_embeddings.projection.bias`), transposeB: true, name: 'patch_embed' });
    let x = g.apply(classTokenOp, { patches, cls: W(`${e}cls_token`), positions: W(`${e}position_embeddings`) }, {}, 'embeddings').out!;

    for (let i = 0; i < c.numLayers; i++) {
      const p = `vit.encoder.layer.${i}.`;
      x = g.scope(`layer.${i}`, () => {
        const h = g.layerNorm(x, W(`${p}layernorm_before.weight`), W(`${p}layernorm_before.bias`), c.eps, 'layernorm_before');
        // 1/√d is already folded into the query weights (scale 1), which lets attention's kernel
        // table run ViT's short unmasked sequences as two batched matmuls and a softmax.
        const [q, k, v] = ['query', 'key', 'value'].map((n) => {
          const name = `${p}attention.attention.${n}`;
          return g.matmul(h, W(`${name}.weight`), { bias: w(`${name}.bias`), transposeB: true, name: n });
        }) as [Value, Value, Value];
        const attention = g.attention(q, k, v, { numHeads: c.numHeads, headDim: c.headDim, scale: 1, returnProbs: attentionOutputs });
        if (attentionOutputs) g.output(`attention.${i}`, attention.probs!);
        const attended = attention.out;
        const r = g.matmul(attended, W(`${p}attention.output.dense.weight`), { bias: W(`${p}attention.output.dense.bias`), residual: x, transposeB: true, name: 'attention.output' });
        const h2 = g.layerNorm(r, W(`${p}layernorm_after.weight`), W(`${p}layernorm_after.bias`), c.eps, 'layernorm_after');
        const f = g.matmul(h2, W(`${p}intermediate.dense.weight`), { bias: W(`${p}intermediate.dense.bias`), activation: c.activation, transposeB: true, name: 'intermediate' });
        return g.matmul(f, W(`${p}output.dense.weight`), { bias: W(`${p}output.dense.bias`), residual: r, transposeB: true, name: 'output' });
      });
    }

    // Only the [CLS] rows go on: the embedding op, gathering rows b·T of the flattened sequence, picks them.
    const sequence = g.reshape(x, [batch * tokens, c.hiddenSize], 'sequence');
    const cls = g.embedding(g.constant('cls_rows', this.clsRowIds(batch, tokens)), sequence, { name: 'cls' });
    const hidden = g.layerNorm(cls, W('vit.layernorm.weight'), W('vit.layernorm.bias'), c.eps, 'layernorm');
    g.output('logits', g.matmul(hidden, W('classifier.weight'), { bias: W('classifier.bias'), transposeB: true, name: 'classifier' }));
    return g;
  }

  private clsRowIds(batch: number, tokens: number): Tensor {
    let rows = this.clsRows.get(batch);
    if (!rows) {
      rows = this.gpu.upload(Int32Array.from({ length: batch }, (_, b) => b * tokens), [batch], 'i32');
      this.clsRows.set(batch, rows);
    }
    return rows;
  }

  // ---- running --------------------------------------------------------------------------------

  /** Float32 [C, H, W] pixels for one image, preprocessed like ViTImageProcessor. */
  async preprocess(image: ImageInput, source = 'image'): Promise<Float32Array> {
    return preprocessImage(await toRgbaImage(image, source), this.preprocessor, this.config.numChannels as 1 | 3, source);
  }

  /**
   * Pre-softmax logits [B, labels] for normalised pixels [B, C, H, W] (already preprocessed; B is
   * the length over C·H·W). Batches above `maxBatch` run in several passes.
   */
  async logits(pixels: Float32Array, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
    const c = this.config;
    const perImage = c.numChannels * c.imageHeight * c.imageWidth;
    if (pixels.length === 0 || pixels.length % perImage !== 0) {
      throw new ShapeError(`VisionTransformer.logits: ${pixels.length} values are not a whole number of ${c.numChannels}×${c.imageHeight}×${c.imageWidth} images`);
    }
    const count = pixels.length / perImage;
    const L = c.labels.length;
    const out = new Float32Array(count * L);
    return this.queue.run(async () => {
      for (let start = 0; start < count; start += this.maxBatch) {
        const n = Math.min(this.maxBatch, count - start);
        const batch = this.sessions.bucketFor(n);
        const session = await this.sessions.session(batch);
        const input = new Float32Array(batch * perImage); // blank images pad the batch to its bucket
        input.set(pixels.subarray(start * perImage, (start + n) * perImage));
        const result = await this.run(session, batch, input);
        out.set(result.subarray(0, n * L), start * L);
        onProgress?.(start + n, count);
      }
      return out;
    });
  }

  private async run(session: Session, batch: number, pixels: Float32Array): Promise<Float32Array> {
    const profile = this.options.profile === true && !this.profiles.has(batch);
    const result = await session.run({ pixels }, { download: ['logits'], profile });
    if (profile) this.profiles.set(batch, session.profileTable());
    return result.logits as Float32Array;
  }

  /**
   * Classify images (RGBA pixels, PNG/JPEG bytes, or browser images): each is preprocessed like
   * ViTImageProcessor, all run in batches, and each gets its best class, the `topK` best with
   * softmax scores, and its logits.
   */
  async classify(images: ImageInput | readonly ImageInput[], options: ClassifyOptions = {}): Promise<Classification[]> {
    const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
    const L = this.config.labels.length;
    const topK = options.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`classify: topK must be a positive integer, got ${topK}`);
    if (list.length === 0) return [];
    const c = this.config;
    const perImage = c.numChannels * c.imageHeight * c.imageWidth;
    const pixels = new Float32Array(list.length * perImage);
    for (let i = 0; i < list.length; i++) pixels.set(await this.preprocess(list[i]!, list.length > 1 ? `image ${i}` : 'image'), i * perImage);
    const logits = await this.logits(pixels, options.onProgress);
    return list.map((_, i) => this.describe(logits.slice(i * L, (i + 1) * L), Math.min(topK, L)));
  }

  /** Softmax scores and the k best classes (ties: lower index first) of one row of logits. */
  private describe(logits: Float32Array, k: number): Classification {
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    let total = 0;
    const probs = Array.from(logits, (v) => {
      const e = Math.exp(v - max);
      total += e;
      return e;
    });
    const order = probs.map((_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
    const top = order.map((index) => ({ index, label: this.config.labels[index]!, score: probs[index]! / total }));
    return { ...top[0]!, top, logits };
  }

  /**
   * Every layer's attention probabilities (and the logits) for one preprocessed image, Float32Array
   * [C, H, W] as `preprocess()` makes it: what each token, the [CLS] token first, attends to.
   */
  async attentionMaps(pixels: Float32Array): Promise<VitAttentionMaps> {
    const c = this.config;
    const perImage = c.numChannels * c.imageHeight * c.imageWidth;
    if (pixels.length !== perImage) {
      throw new ShapeError(`VisionTransformer.attentionMaps: expected one ${c.numChannels}×${c.imageHeight}×${c.imageWidth} image (${perImage} values), got ${pixels.length} values`);
    }
    const grid: [number, number] = [c.imageHeight / c.patchSize, c.imageWidth / c.patchSize];
    return this.queue.run(async () => {
      if (!this.attentionSession) {
        const created = Session.create(this.gpu, compile(this.graph(1, true)));
        this.attentionSession = created;
        created.catch(() => this.attentionSession === created && (this.attentionSession = null)); // a failed compile may be retried
      }
      const session = await this.attentionSession;
      const names = Array.from({ length: c.numLayers }, (_, i) => `attention.${i}`);
      const result = await session.run({ pixels }, { download: ['logits', ...names] });
      return {
        layers: names.map((n) => result[n] as Float32Array),
        logits: result.logits as Float32Array,
        heads: c.numHeads,
        tokens: 1 + grid[0] * grid[1],
        grid,
      };
    });
  }

  /** Per-node GPU profiles of the first run of each batch size (load with `{ profile: true }`). */
  profileTable(): string {
    if (this.profiles.size === 0) return '(no profile: load the model with { profile: true } and run it)';
    return [...this.profiles].map(([batch, table]) => `vit, batch ${batch}\n${table}`).join('\n\n');
  }

  /** Reject queued and later calls; free the weights and every compiled graph once the running call ends. */
  destroy(): Promise<void> {
    return this.queue.close(async () => {
      await this.sessions.destroy();
      if (this.attentionSession) await this.attentionSession.then((s) => s.destroy(), () => {});
      for (const t of [...this.weights.values(), ...this.clsRows.values()]) t.destroy();
    });
  }
}

/** Query weights and biases times 1/√headDim: attention's scaling, done once at load instead of on every score. */
function queryScaled(name: string, host: HostTensor, headDim: number): HostTensor {
  if (!/\.attention\.attention\.query\.(weight|bias)$/.test(name)) return host;
  const scale = 1 / Math.sqrt(headDim);
  return { shape: host.shape, data: host.data.map((v) => v * scale) };
}
