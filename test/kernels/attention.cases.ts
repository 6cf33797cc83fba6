import { attention } from '../../src/ops/attention.ts';
import type { Tensor } from '../../src/device/tensor.ts';
import { attentionReference } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

interface Spec {
  variant: string;
  batch: number;
  tq: number;
  /** Keys (the KV-cache capacity when kvLength is set). */
  tk: number;
  numHeads: number;
  numKVHeads?: number;
  headDim: number;
  causal?: boolean;
  scale?: number;
  /** Padding per batch entry: keys [from, to) are masked out. */
  padding?: [number, number][];
  kvLength?: number;
  probs?: boolean;
}

const specs: Spec[] = [
  // Plain self-attention over odd lengths, head dims and head counts.
  { variant: 'self', batch: 1, tq: 1, tk: 1, numHeads: 1, headDim: 1 },
  { variant: 'self', batch: 1, tq: 5, tk: 5, numHeads: 3, headDim: 7 },
  { variant: 'self', batch: 2, tq: 17, tk: 17, numHeads: 12, headDim: 64 },
  { variant: 'self', batch: 1, tq: 67, tk: 67, numHeads: 3, headDim: 80 },
  { variant: 'self', batch: 1, tq: 67, tk: 67, numHeads: 1, headDim: 128, scale: 0.3 },
  { variant: 'self', batch: 1, tq: 130, tk: 130, numHeads: 2, headDim: 7 },
  // Causal (multiple query blocks and key tiles at 67 and 130).
  { variant: 'causal', batch: 1, tq: 5, tk: 5, numHeads: 3, headDim: 7, causal: true },
  { variant: 'causal', batch: 2, tq: 17, tk: 17, numHeads: 12, headDim: 64, causal: true },
  { variant: 'causal', batch: 1, tq: 67, tk: 67, numHeads: 1, headDim: 128, causal: true, probs: true },
  { variant: 'causal', batch: 1, tq: 130, tk: 130, numHeads: 3, headDim: 80, causal: true },
  // Grouped-query attention: 6 query heads share 2 kv heads.
  { variant: 'gqa', batch: 1, tq: 17, tk: 17, numHeads: 6, numKVHeads: 2, headDim: 64, causal: true, probs: true },
  { variant: 'gqa', batch: 2, tq: 67, tk: 67, numHeads: 12, numKVHeads: 3, headDim: 7 },
  // Key padding, with batch entry 1 fully padded (its rows must be 0, not NaN).
  { variant: 'padding', batch: 3, tq: 17, tk: 17, numHeads: 3, headDim: 7, padding: [[12, 17], [0, 17], [0, 3]], probs: true },
  { variant: 'padding-causal', batch: 2, tq: 67, tk: 67, numHeads: 3, headDim: 64, causal: true, padding: [[0, 5], [60, 67]], probs: true },
  // Cross-attention, Tq ≠ Tk; causal with Tq > Tk leaves the first Tq − Tk rows with no key.
  { variant: 'cross', batch: 2, tq: 5, tk: 67, numHeads: 3, headDim: 80, padding: [[50, 67], [0, 0]] },
  { variant: 'cross', batch: 1, tq: 67, tk: 17, numHeads: 12, headDim: 1 },
  { variant: 'cross-causal', batch: 1, tq: 67, tk: 17, numHeads: 3, headDim: 7, causal: true, probs: true },
  // Chunked prefill into a KV cache: 5 new queries, 30 valid keys of 67.
  { variant: 'cache-prefill', batch: 1, tq: 5, tk: 67, numHeads: 6, numKVHeads: 2, headDim: 64, causal: true, kvLength: 30, probs: true },
  // Decode (Tq = 1) against a KV cache with kvLength < capacity.
  { variant: 'decode', batch: 1, tq: 1, tk: 67, numHeads: 12, numKVHeads: 4, headDim: 64, causal: true, kvLength: 40, probs: true },
  { variant: 'decode', batch: 2, tq: 1, tk: 17, numHeads: 3, headDim: 7, kvLength: 17 },
  { variant: 'decode', batch: 1, tq: 1, tk: 130, numHeads: 2, headDim: 128, causal: true, kvLength: 129 },
  { variant: 'decode', batch: 1, tq: 1, tk: 5, numHeads: 1, headDim: 80, kvLength: 1 },
  { variant: 'decode-padding', batch: 2, tq: 1, tk: 67, numHeads: 3, headDim: 80, padding: [[0, 67], [10, 30]], kvLength: 50, probs: true },
  { variant: 'decode', batch: 1, tq: 1, tk: 67, numHeads: 3, headDim: 64 },
];

function specName(s: Spec): string {
  const heads = s.numKVHeads ? `${s.numHeads}/${s.numKVHeads}` : `${s.numHeads}`;
  const cache = s.kvLength !== undefined ? `(len ${s.kvLength})` : '';
  return `attention/${s.variant}${s.probs ? '+probs' : ''}/B${s.batch}xTq${s.tq}xTk${s.tk}${cache}xH${heads}xD${s.headDim}`;
}

export const cases: KernelCase[] = specs.map((s, i): KernelCase => ({
  name: specName(s),
  tolerance: { abs: 2e-5, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(700 + i);
    const numKVHeads = s.numKVHeads ?? s.numHeads;
    const qv = rng.normal(s.batch * s.tq * s.numHeads * s.headDim);
    const kv = rng.normal(s.batch * s.tk * numKVHeads * s.headDim);
    const vv = rng.normal(s.batch * s.tk * numKVHeads * s.headDim);
    const mask = s.padding
      ? Uint32Array.from({ length: s.batch * s.tk }, (_, e) => {
          const [from, to] = s.padding![Math.floor(e / s.tk)]!;
          const j = e % s.tk;
          return j >= from && j < to ? 0 : 1;
        })
      : undefined;

    const q = gpu.upload(qv, [s.batch, s.tq, s.numHeads * s.headDim]);
    const k = gpu.upload(kv, [s.batch, s.tk, numKVHeads * s.headDim]);
    const v = gpu.upload(vv, [s.batch, s.tk, numKVHeads * s.headDim]);
    const keyMask = mask && gpu.upload(mask, [s.batch, s.tk]);
    const kvLength = s.kvLength !== undefined ? gpu.upload(Uint32Array.of(s.kvLength), [1]) : undefined;
    const attrs = { numHeads: s.numHeads, numKVHeads: s.numKVHeads, headDim: s.headDim, causal: s.causal, scale: s.scale, returnProbs: s.probs };
    const result = attention(gpu, q, k, v, attrs, { keyMask, kvLength });
    const out = await result.out.download();
    const probs = result.probs ? await result.probs.download() : new Float32Array(0);
    for (const t of [q, k, v, keyMask, kvLength, result.out, result.probs]) (t as Tensor | undefined)?.destroy();

    const want = attentionReference(qv, kv, vv, {
      batch: s.batch, tq: s.tq, tk: s.tk, numHeads: s.numHeads, numKVHeads, headDim: s.headDim,
      causal: !!s.causal, scale: s.scale ?? 1 / Math.sqrt(s.headDim), keyMask: mask, kvLength: s.kvLength,
    });
    const got = new Float32Array(out.length + probs.length);
    got.set(out);
    got.set(probs, out.length);
    return { got, want: s.probs ? [...want.out, ...want.probs] : want.out };
  },
}));
