import type { Dispatch, Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor, TensorRef } from '../device/tensor.ts';
import prefillSource from '../../shaders/attention.wgsl';
import decodeSource from '../../shaders/attention-decode.wgsl';
import { planDecodeAttention, type DecodeHeads } from './decode-attention.ts';
import { planDecodeAttentionProject } from './decode-attention-project.ts';
import { matmulOp } from './matmul.ts';
import { expectDType, expectRank, expectShape, required, runOp, slice, type Named, type OpDef, type OpProgram, type TensorSpec } from './op.ts';
import { qkvSplitOp } from './qkv-split.ts';
import { specialize, Uniforms } from './shader.ts';
import { softmaxOp } from './softmax.ts';
import { transposeHeadsOp } from './transpose-heads.ts';

/** The kernels keep a query row (and its output accumulator) in registers: head_dim is capped. */
export const MAX_HEAD_DIM = 128;
/**
 * Widest projection (o [N, H·D], both sides) that the decode-and-project kernel folds in: it
 * walks each head's keys in one invocation, which pays only while dispatches cost more than
 * arithmetic (small Llama decoding on lavapipe).
 */
export const MAX_PROJECT_WIDTH = 1024;

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
  /** With a fused `qkv` input: rotate q and k by RoPE with this base (adjacent pairs). */
  theta?: number;
}

/**
 * Scaled-dot-product attention, softmax(q·kᵀ·scale + mask)·v per head, the one op every model
 * uses. Its inputs come in two forms:
 *
 *  - `q` [B, Tq, H·D], `k`, `v` [B, Tk, KVH·D]: plain attention (encoder, cross-attention, a
 *    cache that the caller wrote);
 *  - `qkv` [B, Tq, (H + 2·KVH)·D] with `position` u32 [1] and the states `kCache`, `vCache`
 *    [B, capacity, KVH·D]: the input stages of a decoder are folded in — q|k|v split, RoPE on q
 *    and k (with `theta`), k and v written to the caches at row position[0] — and the new
 *    tokens attend causally to the cache (`kvLength` = position + Tq must be given when Tq > 1).
 *
 * Masks, in one place: `causal`; `keyMask` u32 [B, Tk] (1 = attend, 0 = padding); `kvLength`
 * u32 [1] (valid keys of a cache of capacity Tk, read at run time). With `o` [N, H·D] and
 * `residual` [B, Tq, N] the output projection is folded in too, out = residual + attention·oᵀ
 * (only where a kernel does it: the fusion pass asks `attentionTakesProjection`).
 * Outputs: `out` [B, Tq, H·D] (or [B, Tq, N] projected), and `probs` [B, H, Tq, Tk] on request.
 * The kernel is chosen from ATTENTION_KERNELS below.
 */
export const attentionOp: OpDef<AttentionAttrs> = {
  name: 'attention',
  writes: ['kCache', 'vCache'],
  infer(inputs, attrs) {
    const s = describe(inputs, attrs);
    const outputs: Record<string, TensorSpec> = { out: { shape: [s.B, s.Tq, s.project ? inputs.o!.shape[0]! : s.numHeads * s.headDim], dtype: 'f32' } };
    if (attrs.returnProbs) outputs.probs = { shape: [s.B, s.numHeads, s.Tq, s.Tk], dtype: 'f32' };
    return outputs;
  },
  scratch(inputs, attrs) {
    return select(describe(inputs, attrs)).program?.(inputs, attrs).temps ?? {};
  },
  expand(inputs, attrs) {
    return select(describe(inputs, attrs)).program?.(inputs, attrs) ?? null;
  },
  plan(gpu, inputs, outputs, attrs, scratch) {
    const s = describe(inputs, attrs);
    const row = select(s);
    if (row.plan) return row.plan(gpu, { ...inputs, ...outputs }, s);
    return runProgram(gpu, row.program!(inputs, attrs), { ...inputs, ...outputs, ...scratch });
  },
  cost(inputs, attrs) {
    const s = describe(inputs, attrs);
    return attentionCost(s.B, s.Tq, s.Tk, s.numHeads, s.numKVHeads, s.headDim, !!attrs.returnProbs);
  },
};

/** What the kernel choice depends on: the shapes, and which stages and masks a call asks for. */
interface Call extends DecodeHeads {
  B: number;
  Tq: number;
  /** Keys: Tk of k and v, or the cache's capacity. */
  Tk: number;
  /** Fused q|k|v input (split, RoPE and cache write folded in). */
  qkv: boolean;
  project: boolean;
  causal: boolean;
  keyMask: boolean;
  kvLength: boolean;
  probs: boolean;
}

interface KernelRow {
  /** The kernels that run (as a profile names them). */
  kernels: string;
  /** Decode (one new token), prefill (many) or cross (queries against another sequence's keys). */
  use: string;
  when(c: Call): boolean;
  /** One fused kernel … */
  plan?(gpu: Gpu, t: Named<TensorRef>, c: Call): Dispatch[];
  /** … or several other ops in a row, with temporaries (which compile gives to the memory planner). */
  program?(inputs: Named<TensorSpec>, attrs: AttentionAttrs): OpProgram;
}

/**
 * The kernel-selection table, read top to bottom: the first row whose condition holds runs.
 * Only the first row folds in an output projection.
 */
const ATTENTION_KERNELS: readonly KernelRow[] = [
  {
    kernels: 'decode_attention_project', use: 'decode, small model: qkv → attention → o',
    when: (c) => c.qkv && c.Tq === 1 && c.project,
    plan: (gpu, t, c) => [planDecodeAttentionProject(gpu, t as Parameters<typeof planDecodeAttentionProject>[1], c)],
  },
  {
    kernels: 'decode_attention', use: 'decode: qkv → attention',
    when: (c) => c.qkv && c.Tq === 1,
    plan: (gpu, t, c) => [planDecodeAttention(gpu, t as Parameters<typeof planDecodeAttention>[1], c)],
  },
  {
    kernels: 'qkv_split, attention', use: 'prefill: qkv → cache, then attention over it',
    when: (c) => c.qkv,
    program: prefillFromQkv,
  },
  {
    // The scores go to memory, but both products run on the tuned matmul kernel. On lavapipe
    // (bench/teaching.ts, CPU time) it ties the fused kernel at fashion-vit's T = 50 (3.0 ms both)
    // and beats it 5.4× at ViT-Base's T = 197 (10.4 against 56.1 ms). The matmul has no scale, so
    // only callers that fold 1/√d into q (ViT's query weights) qualify.
    kernels: 'transpose_heads, matmul, softmax, matmul, transpose_heads', use: 'encoder: unmasked, bidirectional, scale folded into q',
    when: (c) => c.Tq > 1 && c.scale === 1 && !c.causal && !c.keyMask && !c.kvLength && c.numKVHeads === c.numHeads,
    program: matmulSoftmaxMatmul,
  },
  {
    kernels: 'attention_decode', use: 'decode or one cross query: keys split over a workgroup',
    when: (c) => c.Tq === 1,
    plan: (gpu, t, c) => [planTiled(gpu, t, c, 'decode')],
  },
  {
    kernels: 'attention', use: 'prefill, encoder, cross: query blocks against key tiles',
    when: () => true,
    plan: (gpu, t, c) => [planTiled(gpu, t, c, 'prefill')],
  },
];

function select(c: Call): KernelRow {
  return ATTENTION_KERNELS.find((row) => row.when(c))!;
}

/** Whether a call with these inputs plus `o` [N, H·D] and a residual runs a kernel that folds in the projection. */
export function attentionTakesProjection(inputs: Named<TensorSpec>, attrs: AttentionAttrs, o: TensorSpec): boolean {
  const [N, width] = o.shape as [number, number];
  if (o.shape.length !== 2 || N > MAX_PROJECT_WIDTH || width > MAX_PROJECT_WIDTH || attrs.returnProbs) return false;
  const c = describe(inputs, attrs);
  return select({ ...c, project: true }) === ATTENTION_KERNELS[0];
}

/** qkvSplit writes q (rotated) to a temporary and k, v to the caches; attention reads the cache. */
function prefillFromQkv(inputs: Named<TensorSpec>, attrs: AttentionAttrs): OpProgram {
  const { numHeads, headDim, theta } = attrs;
  const numKVHeads = attrs.numKVHeads ?? numHeads;
  const [B, Tq] = inputs.qkv!.shape as [number, number];
  const outputs: Record<string, string> = { out: 'out', ...(attrs.returnProbs ? { probs: 'probs' } : {}) };
  return {
    temps: { q: { shape: [B, Tq, numHeads * headDim], dtype: 'f32' } },
    views: {},
    steps: [
      { name: 'qkv_split', op: qkvSplitOp, attrs: { numHeads, numKVHeads, headDim, theta }, inputs: { qkv: 'qkv', position: 'position', kCache: 'kCache', vCache: 'vCache' }, outputs: { q: 'q' } },
      {
        name: 'attention', op: attentionOp, attrs: { numHeads, numKVHeads, headDim, causal: true, scale: attrs.scale, returnProbs: attrs.returnProbs },
        inputs: { q: 'q', k: 'kCache', v: 'vCache', kvLength: 'kvLength' }, outputs,
      },
    ],
  };
}

/** Each head as a contiguous [T, d] block, scores = q·kᵀ, probs = softmax(scores), out = probs·v, heads merged back. */
function matmulSoftmaxMatmul(inputs: Named<TensorSpec>, attrs: AttentionAttrs): OpProgram {
  const { numHeads: H, headDim: d } = attrs;
  const [B, Tq] = inputs.q!.shape as [number, number];
  const Tk = inputs.k!.shape[1]!;
  const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: 'f32' });
  const temps: Record<string, TensorSpec> = { qh: f32(B, H, Tq, d), kh: f32(B, H, Tk, d), vh: f32(B, H, Tk, d), scores: f32(B, H, Tq, Tk), context: f32(B, H, Tq, d) };
  if (!attrs.returnProbs) temps.probs = f32(B, H, Tq, Tk);
  return {
    temps,
    views: { q4: ['q', [B, Tq, H, d]], k4: ['k', [B, Tk, H, d]], v4: ['v', [B, Tk, H, d]], merged: ['out', [B, Tq, H, d]] },
    steps: [
      { name: 'q.heads', op: transposeHeadsOp, attrs: {}, inputs: { x: 'q4' }, outputs: { out: 'qh' } },
      { name: 'k.heads', op: transposeHeadsOp, attrs: {}, inputs: { x: 'k4' }, outputs: { out: 'kh' } },
      { name: 'v.heads', op: transposeHeadsOp, attrs: {}, inputs: { x: 'v4' }, outputs: { out: 'vh' } },
      { name: 'scores', op: matmulOp, attrs: { transposeB: true }, inputs: { a: 'qh', b: 'kh' }, outputs: { out: 'scores' } },
      { name: 'probs', op: softmaxOp, attrs: {}, inputs: { x: 'scores' }, outputs: { out: 'probs' } },
      { name: 'context', op: matmulOp, attrs: {}, inputs: { a: 'probs', b: 'vh' }, outputs: { out: 'context' } },
      { name: 'merge_heads', op: transposeHeadsOp, attrs: {}, inputs: { x: 'context' }, outputs: { out: 'merged' } },
    ],
  };
}

/** Plan a program on concrete tensors: the node's inputs and outputs, scratch for the temporaries, and views of them. */
function runProgram(gpu: Gpu, program: OpProgram, tensors: Named<TensorRef>): Dispatch[] {
  const t: Record<string, TensorRef> = {};
  for (const [name, ref] of Object.entries(tensors)) if (ref) t[name] = ref;
  for (const [name, [of, shape]] of Object.entries(program.views)) t[name] = { ...t[of]!, shape };
  const pick = (names: Record<string, string>) => Object.fromEntries(Object.entries(names).filter(([, n]) => t[n]).map(([k, n]) => [k, t[n]!]));
  return program.steps.flatMap((step) => step.op.plan(gpu, pick(step.inputs), pick(step.outputs), step.attrs, {}));
}

/** Check the inputs of any form and reduce them to what the table reads. */
function describe(inputs: Named<TensorSpec>, attrs: AttentionAttrs): Call {
  const { numHeads, headDim } = attrs;
  const numKVHeads = attrs.numKVHeads ?? numHeads;
  for (const [name, value] of [['numHeads', numHeads], ['numKVHeads', numKVHeads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`attention: ${name} must be a positive integer, got ${value}`);
  }
  if (numHeads % numKVHeads !== 0) throw new ShapeError(`attention: numKVHeads ${numKVHeads} must divide numHeads ${numHeads}`);
  if (headDim > MAX_HEAD_DIM) throw new LimitError(`attention: headDim ${headDim} exceeds the kernel's limit of ${MAX_HEAD_DIM}`);
  if (attrs.scale !== undefined && !Number.isFinite(attrs.scale)) throw new ShapeError(`attention: scale must be finite, got ${attrs.scale}`);
  const qWidth = numHeads * headDim, kvWidth = numKVHeads * headDim;

  let B: number, Tq: number, Tk: number;
  const qkv = inputs.qkv;
  if (qkv) {
    if (inputs.q || inputs.k || inputs.v) throw new ShapeError(`attention: give either qkv or q, k and v, not both`);
    if (headDim % 2 !== 0) throw new ShapeError(`attention: a fused qkv needs an even headDim (RoPE pairs), got ${headDim}`);
    expectDType('attention', 'qkv', qkv, 'f32');
    expectRank('attention', 'qkv', qkv, 3);
    [B, Tq] = qkv.shape as [number, number];
    if (qkv.shape[2] !== qWidth + 2 * kvWidth) {
      throw new ShapeError(`attention: qkv ${formatShape(qkv.shape)} has rows of ${qkv.shape[2]}, expected (numHeads + 2·numKVHeads)·headDim = (${numHeads} + 2·${numKVHeads})·${headDim}`);
    }
    const position = required('attention', inputs, 'position');
    expectDType('attention', 'position', position, 'u32');
    expectShape('attention', 'position', position, [1]);
    const kCache = required('attention', inputs, 'kCache');
    const vCache = required('attention', inputs, 'vCache');
    for (const [name, cache] of [['kCache', kCache], ['vCache', vCache]] as const) {
      expectDType('attention', name, cache, 'f32');
      expectRank('attention', name, cache, 3);
      if (cache.shape[0] !== B || cache.shape[2] !== kvWidth) throw new ShapeError(`attention: ${name} ${formatShape(cache.shape)} should be [${B}, capacity, ${kvWidth}]`);
    }
    expectShape('attention', 'vCache', vCache, kCache.shape);
    Tk = kCache.shape[1]!;
    if (Tq > 1 && !inputs.kvLength) throw new ShapeError(`attention: ${Tq} tokens of a fused qkv need kvLength (position + ${Tq})`);
  } else {
    const q = required('attention', inputs, 'q');
    const k = required('attention', inputs, 'k');
    const v = required('attention', inputs, 'v');
    for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
      expectDType('attention', name, t, 'f32');
      expectRank('attention', name, t, 3);
    }
    [B, Tq] = q.shape as [number, number];
    Tk = k.shape[1]!;
    if (q.shape[2] !== qWidth) throw new ShapeError(`attention: q ${formatShape(q.shape)} has rows of ${q.shape[2]}, expected numHeads·headDim = ${numHeads}·${headDim}`);
    expectShape('attention', 'k', k, [B, Tk, kvWidth]);
    expectShape('attention', 'v', v, k.shape);
  }
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
  const project = !!inputs.o;
  if (project || inputs.residual) {
    const o = required('attention', inputs, 'o');
    const residual = required('attention', inputs, 'residual');
    expectDType('attention', 'o', o, 'f32');
    if (o.shape.length !== 2 || o.shape[1] !== qWidth) throw new ShapeError(`attention: o ${formatShape(o.shape)} should be [N, ${qWidth}]`);
    expectDType('attention', 'residual', residual, 'f32');
    expectShape('attention', 'residual', residual, [B, Tq, o.shape[0]!]);
  }
  const c: Call = {
    B, Tq, Tk, numHeads, numKVHeads, headDim, theta: attrs.theta, scale: attrs.scale ?? 1 / Math.sqrt(headDim),
    qkv: !!qkv, project, causal: !!qkv || !!attrs.causal, keyMask: !!keyMask, kvLength: !!kvLength, probs: !!attrs.returnProbs,
  };
  if (attrs.theta !== undefined && !c.qkv) throw new ShapeError(`attention: theta (RoPE) is an input stage of a fused qkv; rotate q and k with ropeOp instead`);
  if (project && select(c) !== ATTENTION_KERNELS[0]) throw new ShapeError(`attention: no kernel folds the output projection into ${select(c).kernels}; apply o with a matmul`);
  if (c.probs && c.Tq === 1 && c.qkv) throw new ShapeError(`attention: the decode kernels of a fused qkv do not return probs`);
  return c;
}

/** attention.wgsl (prefill) or attention-decode.wgsl (Tq = 1) on q, k, v. */
function planTiled(gpu: Gpu, t: Named<TensorRef>, c: Call, kind: 'prefill' | 'decode'): Dispatch {
  const { B, Tq, Tk, numHeads, numKVHeads, headDim } = c;
  const q = t.q!, k = t.k!, v = t.v!, out = t.out!;
  const keyMask = t.keyMask, kvLength = t.kvLength, probs = t.probs;

  const bound: TensorRef[] = [q, k, v, out];
  const binding = (x: TensorRef | undefined): number => (x ? bound.push(x) : 0); // binding index = position
  const defines = {
    HEAD_DIM: headDim,
    KEY_MASK: !!keyMask, KEY_MASK_BINDING: binding(keyMask),
    KV_LENGTH: !!kvLength, KV_LENGTH_BINDING: binding(kvLength),
    PROBS: !!probs, PROBS_BINDING: binding(probs),
  };
  const bindings = bound.map((x) => {
    const s = slice(x);
    if (s.size > gpu.limits.maxStorageBufferBindingSize) {
      throw new LimitError(`attention: tensor ${formatShape(x.shape)} (${s.size} bytes) exceeds maxStorageBufferBindingSize (${gpu.limits.maxStorageBufferBindingSize} bytes)`);
    }
    return s;
  });

  const uniforms = new Uniforms()
    .u32(Tq).u32(Tk).u32(numHeads).u32(numHeads / numKVHeads)
    .u32(numHeads * headDim).u32(numKVHeads * headDim).f32(c.scale * Math.LOG2E)
    .finish();
  const { flops, bytes } = attentionCost(B, Tq, Tk, numHeads, numKVHeads, headDim, !!probs);
  const workgroupBytes = gpu.limits.maxComputeWorkgroupStorageSize;
  const headVec4 = Math.ceil(headDim / 4); // the kernels hold a head as vec4s, zero-padded

  if (kind === 'decode') {
    // Keys split over THREADS invocations, whose partial accumulators must fit in workgroup memory.
    let threads = gpu.tuning.attention.maxDecodeThreads;
    while (threads > 1 && 16 * (threads * headVec4 + headVec4) + 8 * threads > workgroupBytes) threads /= 2;
    const kernel = `attention_decode_d${headDim}`;
    const code = specialize(kernel, decodeSource, { ...defines, THREADS: threads });
    return { kernel, pipeline: gpu.pipeline(kernel, code), uniforms, bindings, workgroups: [numHeads, B], flops, bytes };
  }
  // A K tile and a V tile of blockK rows of headDim floats each in workgroup memory.
  const fit = Math.floor(workgroupBytes / (2 * 16 * headVec4));
  const blockK = Math.min(gpu.tuning.attention.maxBlockK, fit - (fit % 8)); // ≥ 32 for headDim ≤ 128 in 32 KiB
  const kernel = `attention_d${headDim}${c.causal ? '_causal' : ''}`;
  const code = specialize(kernel, prefillSource, { ...defines, CAUSAL: c.causal, BLOCK_Q: gpu.tuning.attention.blockQ, BLOCK_K: blockK });
  return { kernel, pipeline: gpu.pipeline(kernel, code), uniforms, bindings, workgroups: [Math.ceil(Tq / gpu.tuning.attention.blockQ), numHeads, B], flops, bytes };
}

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

/**
 * Eager attention from a fused qkv against a KV cache (the caches gain rows position ..
 * position + Tq - 1); with `project`, out = residual + attention·oᵀ.
 */
export function cachedAttention(
  gpu: Gpu,
  qkv: Tensor,
  cache: { position: Tensor; kCache: Tensor; vCache: Tensor; kvLength?: Tensor },
  attrs: AttentionAttrs,
  project: { o?: Tensor; residual?: Tensor } = {},
): Tensor {
  return runOp(gpu, attentionOp, { qkv, ...cache, ...project }, attrs).out!;
}
