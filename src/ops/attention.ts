import type { Dispatch, Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor, TensorRef } from '../device/tensor.ts';
import prefillSource from '../../shaders/attention.wgsl';
import decodeSource from '../../shaders/attention-decode.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef, type TensorSpec } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

export interface AttentionAttrs {
  numHeads: number;
  /** Heads of k and v (grouped-query attention); divides numHeads. Default numHeads. */
  numKVHeads?: number;
  headDim: number;
  /** Query i (of the last Tq positions) sees key j iff j <= i + validKeys - Tq. */
  causal?: boolean;
  /** Default 1/sqrt(headDim). */
  scale?: number;
  /** Also output the normalised probabilities [B, numHeads, Tq, Tk] (for visualisation). */
  returnProbs?: boolean;
}

/** The kernels keep a query row (and its output accumulator) in registers: head_dim is capped. */
export const MAX_HEAD_DIM = 128;

function checkAttrs(attrs: AttentionAttrs): number {
  const { numHeads, headDim } = attrs;
  const numKVHeads = attrs.numKVHeads ?? numHeads;
  for (const [name, value] of [['numHeads', numHeads], ['numKVHeads', numKVHeads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`attention: ${name} must be a positive integer, got ${value}`);
  }
  if (numHeads % numKVHeads !== 0) throw new ShapeError(`attention: numKVHeads ${numKVHeads} must divide numHeads ${numHeads}`);
  if (headDim > MAX_HEAD_DIM) throw new LimitError(`attention: headDim ${headDim} exceeds the kernel's limit of ${MAX_HEAD_DIM}`);
  if (attrs.scale !== undefined && !Number.isFinite(attrs.scale)) throw new ShapeError(`attention: scale must be finite, got ${attrs.scale}`);
  return numKVHeads;
}

/**
 * Fused scaled-dot-product attention: softmax(q·kᵀ·scale + mask)·v per head, with causal,
 * key-padding and KV-cache-length masks, grouped-query heads and an online softmax, so the
 * Tq×Tk scores never reach global memory (unless `returnProbs` asks for them).
 *
 * Inputs: `q` [B, Tq, numHeads·headDim], `k`, `v` [B, Tk, numKVHeads·headDim], optional `keyMask`
 * u32 [B, Tk] (1 = attend, 0 = padding), optional `kvLength` u32 [1] (valid keys of a KV cache of
 * capacity Tk, read at run time). Outputs: `out` like q, and `probs` [B, numHeads, Tq, Tk] on request.
 */
export const attentionOp: OpDef<AttentionAttrs> = {
  name: 'attention',
  infer(inputs, attrs) {
    const numKVHeads = checkAttrs(attrs);
    const q = required('attention', inputs, 'q');
    const k = required('attention', inputs, 'k');
    const v = required('attention', inputs, 'v');
    for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
      expectDType('attention', name, t, 'f32');
      expectRank('attention', name, t, 3);
    }
    const [B, Tq, qWidth] = q.shape as [number, number, number];
    const Tk = k.shape[1]!;
    if (qWidth !== attrs.numHeads * attrs.headDim) {
      throw new ShapeError(`attention: q ${formatShape(q.shape)} has rows of ${qWidth}, expected numHeads·headDim = ${attrs.numHeads}·${attrs.headDim}`);
    }
    expectShape('attention', 'k', k, [B, Tk, numKVHeads * attrs.headDim]);
    expectShape('attention', 'v', v, k.shape);
    const keyMask = inputs.keyMask;
    if (keyMask) {
      expectDType('attention', 'keyMask', keyMask, 'u32');
      expectShape('attention', 'keyMask', keyMask, [B, Tk]);
    }
    const kvLength = inputs.kvLength;
    if (kvLength) {
      expectDType('attention', 'kvLength', kvLength, 'u32');
      expectShape('attention', 'kvLength', kvLength, [1]);
    }
    const outputs: Record<string, TensorSpec> = { out: { shape: q.shape, dtype: 'f32' } };
    if (attrs.returnProbs) outputs.probs = { shape: [B, attrs.numHeads, Tq, Tk], dtype: 'f32' };
    return outputs;
  },
  plan(gpu, inputs, outputs, attrs) {
    const numKVHeads = checkAttrs(attrs);
    const { numHeads, headDim } = attrs;
    const q = inputs.q!, k = inputs.k!, v = inputs.v!, out = outputs.out!;
    const [B, Tq] = q.shape as [number, number];
    const Tk = k.shape[1]!;
    const keyMask = inputs.keyMask, kvLength = inputs.kvLength, probs = outputs.probs;

    const bound: TensorRef[] = [q, k, v, out];
    const binding = (t: TensorRef | undefined): number => (t ? bound.push(t) : 0); // binding index = position
    const defines = {
      HEAD_DIM: headDim,
      KEY_MASK: !!keyMask, KEY_MASK_BINDING: binding(keyMask),
      KV_LENGTH: !!kvLength, KV_LENGTH_BINDING: binding(kvLength),
      PROBS: !!probs, PROBS_BINDING: binding(probs),
    };
    const bindings = bound.map((t) => {
      const s = slice(t);
      if (s.size > gpu.limits.maxStorageBufferBindingSize) {
        throw new LimitError(`attention: tensor ${formatShape(t.shape)} (${s.size} bytes) exceeds maxStorageBufferBindingSize (${gpu.limits.maxStorageBufferBindingSize} bytes)`);
      }
      return s;
    });

    const scale = attrs.scale ?? 1 / Math.sqrt(headDim);
    const uniforms = new Uniforms()
      .u32(Tq).u32(Tk).u32(numHeads).u32(numHeads / numKVHeads)
      .u32(numHeads * headDim).u32(numKVHeads * headDim).f32(scale * Math.LOG2E)
      .finish();
    const { flops, bytes } = attentionCost(B, Tq, Tk, numHeads, numKVHeads, headDim, !!probs);
    const workgroupBytes = gpu.limits.maxComputeWorkgroupStorageSize;
    const headVec4 = Math.ceil(headDim / 4); // the kernels hold a head as vec4s, zero-padded

    let dispatch: Dispatch;
    if (Tq === 1) {
      // Decode: keys split over THREADS invocations, whose partial accumulators must fit in workgroup memory.
      let threads = gpu.tuning.attention.maxDecodeThreads;
      while (threads > 1 && 16 * (threads * headVec4 + headVec4) + 8 * threads > workgroupBytes) threads /= 2;
      const kernel = `attention_decode_d${headDim}`;
      const code = specialize(kernel, decodeSource, { ...defines, THREADS: threads });
      dispatch = { kernel, pipeline: gpu.pipeline(kernel, code), uniforms, bindings, workgroups: [numHeads, B], flops, bytes };
    } else {
      // Prefill: a K tile and a V tile of blockK rows of headDim floats each in workgroup memory.
      const fit = Math.floor(workgroupBytes / (2 * 16 * headVec4));
      const blockK = Math.min(gpu.tuning.attention.maxBlockK, fit - (fit % 8)); // ≥ 32 for headDim ≤ 128 in 32 KiB
      const kernel = `attention_d${headDim}${attrs.causal ? '_causal' : ''}`;
      const code = specialize(kernel, prefillSource, { ...defines, CAUSAL: !!attrs.causal, BLOCK_Q: gpu.tuning.attention.blockQ, BLOCK_K: blockK });
      dispatch = { kernel, pipeline: gpu.pipeline(kernel, code), uniforms, bindings, workgroups: [Math.ceil(Tq / gpu.tuning.attention.blockQ), numHeads, B], flops, bytes };
    }
    return [dispatch];
  },
  cost(inputs, attrs) {
    const [B, Tq] = inputs.q!.shape as [number, number];
    return attentionCost(B, Tq, inputs.k!.shape[1]!, attrs.numHeads, attrs.numKVHeads ?? attrs.numHeads, attrs.headDim, !!attrs.returnProbs);
  },
};

/** 4·B·H·Tq·Tk·D flops (q·kᵀ and p·v, a multiply and an add each); bytes of q, k, v, out (and probs). */
function attentionCost(B: number, Tq: number, Tk: number, H: number, KVH: number, D: number, withProbs: boolean) {
  const flops = 4 * B * H * Tq * Tk * D;
  const bytes = 4 * (2 * B * Tq * H * D + 2 * B * Tk * KVH * D + (withProbs ? B * H * Tq * Tk : 0));
  return { flops, bytes };
}

/** Eager attention. `out` [B, Tq, numHeads·headDim]; `probs` [B, numHeads, Tq, Tk] when returnProbs. */
export function attention(
  gpu: Gpu,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  attrs: AttentionAttrs,
  extra: { keyMask?: Tensor; kvLength?: Tensor } = {},
): { out: Tensor; probs?: Tensor } {
  const { out, probs } = runOp(gpu, attentionOp, { q, k, v, keyMask: extra.keyMask, kvLength: extra.kvLength }, attrs);
  return probs ? { out: out!, probs } : { out: out! };
}
