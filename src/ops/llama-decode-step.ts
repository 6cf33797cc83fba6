import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/llama_decode_step.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

/** The shape of a Llama model as the one-dispatch decode step needs it. */
export interface LlamaStepShape {
  vocabSize: number;
  dim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  eps: number;
  ropeTheta: number;
}

export interface LlamaDecodeStepAttrs {
  shape: LlamaStepShape;
  /** The packed weights (LlamaStepTexture.upload). */
  weights: LlamaStepTexture;
}

/**
 * vec4s (texels) per row of the weight texture: a power of two, so that the kernel finds a texel
 * with a mask and a shift. The largest packing the CPU-rasterizer profile allows
 * (gpu.tuning.llamaDecodeStep.maxWeights, 4 Mi floats) is then 512 rows, within the 8192 every
 * WebGPU device allows (maxTextureDimension2D).
 */
const TEXTURE_WIDTH = 2048;

/**
 * The packed weights (packLlamaDecodeStepWeights) in an rgba32float texture, TEXTURE_WIDTH texels
 * a row: vec4 i of the packing is texel (i mod TEXTURE_WIDTH, i div TEXTURE_WIDTH). The kernel
 * reads its weights with textureLoad rather than from a storage buffer because on lavapipe a
 * texel fetch is a gather for all 8 lanes of a SIMD vector at once, while a storage load goes
 * lane by lane with a bounds check each; weights are most of what a step loads, and they come in
 * at about 0.7 ns a float instead of 1.1.
 */
export class LlamaStepTexture {
  readonly view: GPUTextureView;

  private constructor(
    private readonly texture: GPUTexture,
    /** vec4s of packed weights it holds. */
    readonly texels: number,
  ) {
    this.view = texture.createView();
  }

  static upload(gpu: Gpu, packed: Float32Array): LlamaStepTexture {
    if (packed.length % 4 !== 0) throw new ShapeError(`LlamaStepTexture: ${packed.length} packed floats are not whole vec4s`);
    const texels = packed.length / 4, rows = Math.max(1, Math.ceil(texels / TEXTURE_WIDTH));
    const data = new Float32Array(4 * TEXTURE_WIDTH * rows);
    data.set(packed);
    const texture = gpu.device.createTexture({ size: [TEXTURE_WIDTH, rows], format: 'rgba32float', usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST, label: 'llama_decode_step/weights' });
    gpu.device.queue.writeTexture({ texture }, data, { bytesPerRow: 16 * TEXTURE_WIDTH }, [TEXTURE_WIDTH, rows]);
    return new LlamaStepTexture(texture, texels);
  }

  destroy(): void {
    this.texture.destroy();
  }

  /** A graph's JSON names the texture's size, not its contents. */
  toJSON(): object {
    return { texels: this.texels, width: TEXTURE_WIDTH };
  }
}

/** A Llama model's weights as the step reads them, before packing (nn.Linear layout [out, in]). */
export interface LlamaStepWeights {
  /** [V, D] */
  embed: Float32Array;
  layers: {
    /** RMSNorm gains [D] */
    attnNorm: Float32Array;
    mlpNorm: Float32Array;
    /** [Q + 2·KV, D]: q heads, k heads, v heads (q and k rows in adjacent-pair RoPE order) */
    qkv: Float32Array;
    /** [D, Q] */
    o: Float32Array;
    /** [2F, D]: gate rows, then up rows */
    gateUp: Float32Array;
    /** [D, F] */
    down: Float32Array;
  }[];
  /** The final RMSNorm gain [D]. */
  norm: Float32Array;
  /** [V, D] (the embedding when tied). */
  classifier: Float32Array;
}

/** n rounded up to a multiple of 4: the kernel reads rows as vec4s. */
const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** Floats in the packed weights (rows zero-padded to multiples of 4 floats, matrices but the embedding to multiples of 4 rows). */
export function llamaDecodeStepSize(s: LlamaStepShape): number {
  const Q = s.numHeads * s.headDim, KV = s.numKVHeads * s.headDim, F = s.hiddenDim, D4 = pad4(s.dim);
  return (s.vocabSize + pad4(s.vocabSize)) * D4 + s.numLayers * ((pad4(Q + 2 * KV) + 2 * pad4(F)) * D4 + D4 * (pad4(Q) + pad4(F)));
}

/**
 * The packed weights (see the shader's header): the embedding, then per layer qkv, o, gate, up and
 * down, then the classifier, with each RMSNorm gain folded into the columns of the projection
 * that follows it (rmsnorm(x)·g·Wᵀ = (x / rms(x))·(W·diag g)ᵀ), so that the kernel needs neither a
 * normalized copy of x nor a barrier to make one. Rows are zero-padded to multiples of 4 floats,
 * and every matrix but the embedding to a multiple of 4 rows (the kernel reads quads of rows).
 */
export function packLlamaDecodeStepWeights(s: LlamaStepShape, w: LlamaStepWeights): Float32Array {
  const out = new Float32Array(llamaDecodeStepSize(s));
  let at = 0;
  /**
   * A [rows, cols] matrix, each row zero-padded to a multiple of 4 floats, times gain[col] if
   * given; then zero rows up to a multiple of 4 (`quads`).
   */
  const put = (data: Float32Array, cols: number, gain?: Float32Array, quads = true) => {
    const stride = pad4(cols), rows = data.length / cols;
    const padded = quads ? pad4(rows) : rows;
    if (at + padded * stride > out.length) throw new ShapeError(`packLlamaDecodeStepWeights: the weights hold more than the ${out.length} floats of the layout`);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[at + r * stride + c] = gain ? data[r * cols + c]! * gain[c]! : data[r * cols + c]!;
    }
    at += padded * stride;
  };
  const Q = s.numHeads * s.headDim, FD = s.hiddenDim * s.dim;
  put(w.embed, s.dim, undefined, false);
  for (const layer of w.layers) {
    put(layer.qkv, s.dim, layer.attnNorm);
    put(layer.o, Q);
    put(layer.gateUp.subarray(0, FD), s.dim, layer.mlpNorm);
    put(layer.gateUp.subarray(FD), s.dim, layer.mlpNorm);
    put(layer.down, s.hiddenDim);
  }
  put(w.classifier, s.dim, w.norm);
  if (at !== out.length) throw new ShapeError(`packLlamaDecodeStepWeights: the weights hold ${at} floats, the layout ${out.length}`);
  return out;
}

/** vec4s of x and of act (one size, so that one function reads either): D, Q or F floats. */
const activationVec4s = (s: LlamaStepShape) => pad4(Math.max(s.dim, s.numHeads * s.headDim, s.hiddenDim)) / 4;

/** Bytes of workgroup memory the kernel declares for this shape and `threads` invocations. */
export function llamaDecodeStepWorkgroupBytes(s: LlamaStepShape, threads: number): number {
  // x, act, q|k|v, and per invocation: a partial Σ x², and (greedy variant) its best logit and id.
  return 16 * (2 * activationVec4s(s) + pad4((s.numHeads + 2 * s.numKVHeads) * s.headDim) / 4) + 4 * 3 * threads;
}

/**
 * Why this device cannot run the one-dispatch step for a model of this shape, or null when it
 * can: the packed weights must be at most gpu.tuning.llamaDecodeStep.maxWeights (beyond, the
 * multi-dispatch path is faster), the activations must fit in workgroup memory, and heads must
 * have an even width.
 */
export function llamaDecodeStepUnfit(gpu: Gpu, s: LlamaStepShape): string | null {
  const size = llamaDecodeStepSize(s), { maxWeights, threads } = gpu.tuning.llamaDecodeStep;
  if (size > maxWeights) return `its ${size} packed weights exceed this adapter's limit of ${maxWeights} for the one-dispatch step`;
  const bytes = llamaDecodeStepWorkgroupBytes(s, threads);
  if (bytes > gpu.limits.maxComputeWorkgroupStorageSize) return `its activations (${bytes} bytes) exceed maxComputeWorkgroupStorageSize (${gpu.limits.maxComputeWorkgroupStorageSize} bytes)`;
  if (s.headDim % 2 !== 0) return `headDim ${s.headDim} is odd (RoPE turns pairs)`;
  return null;
}

/**
 * One decode step of a small Llama model in one dispatch (see shaders/llama_decode_step.wgsl):
 * the weights are an attribute (LlamaStepTexture); inputs `kCache`, `vCache` f32
 * [layers, rows, numKVHeads·headDim] (every layer; row position[0] is written), `ids` i32 (one
 * id: the token), `position` u32 [1] → `logits` [1, vocab]. Given `kvLength` u32 [1], `history`
 * i32 and `steps` u32 [1] too, it decodes greedily: after each step it does what the advance
 * kernel does (the argmax becomes ids[0] and history[position + 1], and position and kvLength
 * move on by one), steps[0] steps in the one dispatch; the logits are then the last step's. The
 * caller keeps position + steps within the cache rows.
 */
export const llamaDecodeStepOp: OpDef<LlamaDecodeStepAttrs> = {
  name: 'llamaDecodeStep',
  writes: ['kCache', 'vCache', 'ids', 'position', 'kvLength', 'history'],
  infer(inputs, { shape: s, weights }) {
    const op = 'llamaDecodeStep';
    if (s.numHeads % s.numKVHeads !== 0) throw new ShapeError(`${op}: numKVHeads ${s.numKVHeads} must divide numHeads ${s.numHeads}`);
    if (4 * weights.texels !== llamaDecodeStepSize(s)) throw new ShapeError(`${op}: the weight texture holds ${4 * weights.texels} floats; a model of this shape packs into ${llamaDecodeStepSize(s)}`);
    const KV = s.numKVHeads * s.headDim;
    for (const name of ['kCache', 'vCache'] as const) {
      const cache = required(op, inputs, name);
      expectDType(op, name, cache, 'f32');
      expectRank(op, name, cache, 3);
      if (cache.shape[0] !== s.numLayers || cache.shape[2] !== KV) throw new ShapeError(`${op}: ${name} ${formatShape(cache.shape)} should be [${s.numLayers}, rows, ${KV}]`);
    }
    if (inputs.kCache!.shape[1] !== inputs.vCache!.shape[1]) throw new ShapeError(`${op}: kCache ${formatShape(inputs.kCache!.shape)} and vCache ${formatShape(inputs.vCache!.shape)} differ`);
    const ids = required(op, inputs, 'ids');
    expectDType(op, 'ids', ids, 'i32');
    if (shapeSize(ids.shape) !== 1) throw new ShapeError(`${op}: ids ${formatShape(ids.shape)} must hold one id`);
    expectDType(op, 'position', required(op, inputs, 'position'), 'u32');
    expectShape(op, 'position', inputs.position!, [1]);
    const greedy = [inputs.kvLength, inputs.history, inputs.steps].filter((t) => t).length;
    if (greedy !== 0 && greedy !== 3) throw new ShapeError(`${op}: give all of 'kvLength', 'history' and 'steps' (to decode greedily) or none`);
    if (inputs.kvLength) {
      expectDType(op, 'kvLength', inputs.kvLength, 'u32');
      expectShape(op, 'kvLength', inputs.kvLength, [1]);
      expectDType(op, 'history', inputs.history!, 'i32');
      expectDType(op, 'steps', inputs.steps!, 'u32');
      expectShape(op, 'steps', inputs.steps!, [1]);
    }
    return { logits: { shape: [1, s.vocabSize], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, { shape: s, weights }) {
    const unfit = llamaDecodeStepUnfit(gpu, s);
    if (unfit) throw new LimitError(`llamaDecodeStep: ${unfit}`);
    const rows = inputs.kCache!.shape[1]!;
    const advance = !!inputs.history;
    const subgroups = gpu.broadcastLanes !== null;
    const kernel = `llama_decode_step_d${s.dim}_f${s.hiddenDim}_q${s.numHeads * s.headDim}_hd${s.headDim}${advance ? '_advance' : ''}${subgroups ? '_subgroups' : ''}`;
    const qkvRows = (s.numHeads + 2 * s.numKVHeads) * s.headDim;
    const code = specialize(kernel, source, { ADVANCE: advance, VEC4S: activationVec4s(s), QKV4: pad4(qkvRows) / 4, HEAD_DIM: s.headDim, CHUNK: s.headDim % 4 === 0 ? 4 : 2, THREADS: gpu.tuning.llamaDecodeStep.threads, TEXTURE_WIDTH, SUBGROUPS: subgroups });
    const uniforms = new Uniforms()
      .u32(s.dim).u32(s.hiddenDim).u32(pad4(s.dim) / 4).u32(pad4(s.numHeads * s.headDim) / 4).u32(pad4(s.hiddenDim) / 4).u32(s.numLayers).u32(s.vocabSize).u32(s.numHeads).u32(s.numHeads / s.numKVHeads).u32(s.numKVHeads * s.headDim).u32(rows).u32(qkvRows)
      .f32(s.eps).f32(Math.LOG2E / Math.sqrt(s.headDim)).f32(Math.log2(s.ropeTheta))
      .finish();
    const { flops, bytes } = stepCost(s, rows);
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms,
      bindings: [{ texture: weights.view }, ...[inputs.kCache!, inputs.vCache!, inputs.ids!, inputs.position!, outputs.logits!, ...(advance ? [inputs.kvLength!, inputs.history!, inputs.steps!] : [])].map(slice)],
      workgroups: [1],
      flops,
      bytes,
    }];
  },
  cost(inputs, { shape: s }) {
    return stepCost(s, inputs.kCache!.shape[1]!);
  },
};

/** Work of one step (a greedy dispatch takes steps[0] of them): every weight once, and (a bound) attention over a full cache. */
function stepCost(s: LlamaStepShape, rows: number): { flops: number; bytes: number } {
  const weights = llamaDecodeStepSize(s) - s.vocabSize * s.dim; // the embedding: one row read
  const attention = 4 * s.numLayers * s.numHeads * rows * s.headDim;
  return { flops: 2 * weights + attention, bytes: 4 * weights + 8 * s.numLayers * rows * s.numKVHeads * s.headDim };
}

/**
 * Eager llamaDecodeStep: the logits [1, vocab] of token ids[0] at position[0]; the caches gain that
 * row. With `greedy`, it takes steps[0] greedy steps (see llamaDecodeStepOp).
 */
export function llamaDecodeStep(gpu: Gpu, weights: LlamaStepTexture, kCache: Tensor, vCache: Tensor, ids: Tensor, position: Tensor, shape: LlamaStepShape, greedy?: { kvLength: Tensor; history: Tensor; steps: Tensor }): Tensor {
  return runOp(gpu, llamaDecodeStepOp, { kCache, vCache, ids, position, ...greedy }, { shape, weights }).logits!;
}
