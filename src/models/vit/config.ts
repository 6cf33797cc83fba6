/**
 * Reading a Hugging Face `ViTForImageClassification` folder's two JSON files: `config.json` (the
 * network) and `preprocessor_config.json` (how `ViTImageProcessor` turns an image into pixels),
 * and the tensors its `model.safetensors` must hold.
 */

import type { Activation } from '../../ops/activation.ts';
import { checkLayerCount, type ExpectedTensor } from '../checkpoint.ts';
import { CheckpointError, jsonForMessage } from '../errors.ts';

type Json = Record<string, unknown>;

export interface VitConfig {
  /** D, the width of every token. */
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  /** Width of the MLP's hidden layer. */
  intermediateSize: number;
  /** The MLP activation: HF's 'gelu' is the exact (erf) GELU. */
  activation: Activation;
  /** LayerNorm epsilon (HF's default for ViT is 1e-12). */
  eps: number;
  /** The image size the position embeddings were trained for. */
  imageHeight: number;
  imageWidth: number;
  /** Square patches of patchSize × patchSize pixels. */
  patchSize: number;
  /** 3 (RGB) or 1 (greyscale). */
  numChannels: number;
  /** Whether query, key and value have biases. */
  qkvBias: boolean;
  /** Class names by index (id2label; 'LABEL_i' where the config names none). */
  labels: string[];
}

/** `ViTImageProcessor`'s settings: resize, rescale, normalise. */
export interface ImageProcessorConfig {
  doResize: boolean;
  /** The size images are resized to (and, without resizing, must have). */
  height: number;
  width: number;
  /** PIL's filter number: 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming. */
  resample: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  /** One value per channel. */
  mean: number[];
  std: number[];
}

/** The most classes `num_labels` may claim without an id2label (whose names the file would have to hold). */
const MAX_LABELS = 1 << 20;

const ACTIVATIONS: Record<string, Activation> = { gelu: 'gelu_erf', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu_fast: 'gelu_tanh', relu: 'relu', silu: 'silu' };

function positiveInt(file: string, json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CheckpointError(`ViT ${file}: '${key}' must be a positive integer, got ${jsonForMessage(json[key])}`);
  }
  return value;
}

/** An int, or a pair [height, width] (HF accepts both for image_size and patch_size). */
function sizePair(json: Json, key: string, fallback: number): [number, number] {
  const value = json[key] ?? fallback;
  if (Array.isArray(value) && value.length === 2) return [positiveInt('config.json', { [key]: value[0] }, key), positiveInt('config.json', { [key]: value[1] }, key)];
  const n = positiveInt('config.json', { [key]: value }, key);
  return [n, n];
}

/** Read a Hugging Face ViT `config.json`. */
export function vitConfig(json: Json): VitConfig {
  if (json.model_type !== undefined && json.model_type !== 'vit') {
    throw new CheckpointError(`ViT config.json: model_type ${jsonForMessage(json.model_type)} is not 'vit'`);
  }
  const hiddenSize = positiveInt('config.json', json, 'hidden_size', 768);
  const numHeads = positiveInt('config.json', json, 'num_attention_heads', 12);
  if (hiddenSize % numHeads !== 0) throw new CheckpointError(`ViT config.json: hidden_size ${hiddenSize} does not divide by num_attention_heads ${numHeads}`);
  const act = (json.hidden_act as string | undefined) ?? 'gelu';
  const activation = typeof act === 'string' && Object.hasOwn(ACTIVATIONS, act) ? ACTIVATIONS[act] : undefined;
  if (!activation) throw new CheckpointError(`ViT config.json: hidden_act ${typeof act === 'string' ? `'${act}'` : jsonForMessage(act)} is not supported (${Object.keys(ACTIVATIONS).join(', ')})`);
  const [imageHeight, imageWidth] = sizePair(json, 'image_size', 224);
  const [patchH, patchW] = sizePair(json, 'patch_size', 16);
  if (patchH !== patchW) throw new CheckpointError(`ViT config.json: patch_size ${patchH}×${patchW} is not square (only square patches are supported)`);
  if (imageHeight % patchH !== 0 || imageWidth % patchH !== 0) {
    throw new CheckpointError(`ViT config.json: image_size ${imageHeight}×${imageWidth} is not a multiple of patch_size ${patchH}`);
  }
  const numChannels = positiveInt('config.json', json, 'num_channels', 3);
  if (numChannels !== 1 && numChannels !== 3) throw new CheckpointError(`ViT config.json: num_channels ${numChannels} is not supported (1 or 3)`);
  const eps = json.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw new CheckpointError(`ViT config.json: 'layer_norm_eps' must be a positive number, got ${jsonForMessage(json.layer_norm_eps)}`);
  return {
    hiddenSize,
    numLayers: checkLayerCount(positiveInt('config.json', json, 'num_hidden_layers', 12), "ViT config.json: 'num_hidden_layers'"),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt('config.json', json, 'intermediate_size', 3072),
    activation,
    eps,
    imageHeight,
    imageWidth,
    patchSize: patchH,
    numChannels,
    qkvBias: json.qkv_bias !== false,
    labels: labelNames(json),
  };
}

/** id2label as an array; its keys must be 0 … L − 1. Without it, num_labels generic names. */
function labelNames(json: Json): string[] {
  const id2label = json.id2label as Record<string, unknown> | undefined;
  if (id2label === undefined || id2label === null) {
    const n = positiveInt('config.json', json, 'num_labels', 2);
    if (n > MAX_LABELS) throw new CheckpointError(`ViT config.json: 'num_labels' ${n} is over the limit of ${MAX_LABELS} classes (corrupt config?)`);
    return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  }
  if (typeof id2label !== 'object' || Array.isArray(id2label)) throw new CheckpointError("ViT config.json: 'id2label' must be an object {\"0\": \"name\", ...}");
  const entries = Object.entries(id2label);
  if (entries.length === 0) throw new CheckpointError("ViT config.json: 'id2label' is empty");
  const labels = new Array<string>(entries.length);
  for (const [key, name] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || labels[index] !== undefined) {
      throw new CheckpointError(`ViT config.json: id2label key '${key}' is not one of 0 … ${entries.length - 1} (each once)`);
    }
    if (typeof name !== 'string' && typeof name !== 'number') throw new CheckpointError(`ViT config.json: id2label '${key}' is ${jsonForMessage(name)}, not a class name`);
    labels[index] = String(name);
  }
  return labels;
}

/**
 * Read a `preprocessor_config.json` (ViTImageProcessor or the older ViTFeatureExtractor); absent
 * keys take ViTImageProcessor's defaults, except that the size defaults to the model's own.
 */
export function imageProcessorConfig(json: Json, model: VitConfig): ImageProcessorConfig {
  const file = 'preprocessor_config.json';
  let height = model.imageHeight, width = model.imageWidth;
  const size = json.size;
  if (typeof size === 'number') [height, width] = [positiveInt(file, json, 'size'), positiveInt(file, json, 'size')];
  else if (size !== undefined && size !== null) {
    const s = size as Json;
    if (typeof s !== 'object' || s.height === undefined || s.width === undefined) {
      throw new CheckpointError(`ViT ${file}: 'size' must be {"height": H, "width": W} or a number, got ${jsonForMessage(size)} (shortest_edge resizing with a crop is not ViTImageProcessor's)`);
    }
    [height, width] = [positiveInt(file, s, 'height'), positiveInt(file, s, 'width')];
  }
  const resample = json.resample ?? 2;
  if (typeof resample !== 'number' || ![1, 2, 3, 4, 5].includes(resample)) {
    throw new CheckpointError(`ViT ${file}: resample ${jsonForMessage(resample)} is not supported (PIL filters 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming)`);
  }
  const rescaleFactor = json.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !Number.isFinite(rescaleFactor)) throw new CheckpointError(`ViT ${file}: 'rescale_factor' must be a number`);
  const perChannel = (key: string): number[] => {
    const value = json[key] ?? 0.5;
    const list = Array.isArray(value) ? value : [value];
    if (list.some((v) => typeof v !== 'number' || !Number.isFinite(v))) throw new CheckpointError(`ViT ${file}: '${key}' must be numbers, got ${jsonForMessage(value)}`);
    if (list.length === 1) return new Array<number>(model.numChannels).fill(list[0] as number);
    if (list.length !== model.numChannels) {
      throw new CheckpointError(`ViT ${file}: '${key}' has ${list.length} values but the model has ${model.numChannels} channel${model.numChannels === 1 ? '' : 's'}`);
    }
    return list as number[];
  };
  const std = perChannel('image_std');
  if (std.some((s) => s === 0)) throw new CheckpointError(`ViT ${file}: 'image_std' has a zero`);
  return {
    doResize: json.do_resize !== false,
    height,
    width,
    resample,
    doRescale: json.do_rescale !== false,
    rescaleFactor,
    doNormalize: json.do_normalize !== false,
    mean: perChannel('image_mean'),
    std,
  };
}

/** The tensors of a ViTForImageClassification checkpoint, by HF name, with their shapes. */
export function vitExpectedTensors(c: VitConfig): ExpectedTensor[] {
  const D = c.hiddenSize, F = c.intermediateSize, p = c.patchSize;
  const patches = (c.imageHeight / p) * (c.imageWidth / p);
  const linear = (name: string, out: number, inp: number, bias = true): ExpectedTensor[] =>
    bias ? [{ name: `${name}.weight`, shape: [out, inp] }, { name: `${name}.bias`, shape: [out] }] : [{ name: `${name}.weight`, shape: [out, inp] }];
  const norm = (name: string): ExpectedTensor[] => [{ name: `${name}.weight`, shape: [D] }, { name: `${name}.bias`, shape: [D] }];
  const tensors: ExpectedTensor[] = [
    { name: 'vit.embeddings.cls_token', shape: [1, 1, D] },
    { name: 'vit.embeddings.position_embeddings', shape: [1, patches + 1, D] },
    { name: 'vit.embeddings.patch_embeddings.projection.weight', shape: [D, c.numChannels, p, p] },
    { name: 'vit.embeddings.patch_embeddings.projection.bias', shape: [D] },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const l = `vit.encoder.layer.${i}.`;
    tensors.push(
      ...norm(`${l}layernorm_before`),
      ...linear(`${l}attention.attention.query`, D, D, c.qkvBias),
      ...linear(`${l}attention.attention.key`, D, D, c.qkvBias),
      ...linear(`${l}attention.attention.value`, D, D, c.qkvBias),
      ...linear(`${l}attention.output.dense`, D, D),
      ...norm(`${l}layernorm_after`),
      ...linear(`${l}intermediate.dense`, F, D),
      ...linear(`${l}output.dense`, D, F),
    );
  }
  tensors.push(...norm('vit.layernorm'), ...linear('classifier', c.labels.length, D));
  return tensors;
}

/** Stored tensors a classifier does not use: ViTModel's pooler and the masked-image-modeling token. */
export const VIT_IGNORED = ['vit.pooler.*', 'vit.embeddings.mask_token'];
