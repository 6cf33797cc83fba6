// Attention against fixtures made by PyTorch (tools/reference/attention.py): causal, key padding
// (with a fully padded batch entry), cross-attention, grouped-query heads, decode against a KV cache.
import { attention } from '../../src/ops/attention.ts';
import type { Tensor } from '../../src/device/tensor.ts';
import fixtures from '../fixtures/attention.json';
import type { KernelCase } from './case.ts';

interface TorchAttentionCase {
  name: string;
  batch: number;
  tq: number;
  tk: number;
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  causal: boolean;
  scale?: number;
  keyMask?: number[];
  kvLength?: number;
  q: number[];
  k: number[];
  v: number[];
  out: number[];
  probs?: number[];
}

export const cases: KernelCase[] = (fixtures.cases as TorchAttentionCase[]).map((c): KernelCase => ({
  name: `torch/attention/${c.name}${c.probs ? '+probs' : ''}`,
  tolerance: { abs: 2e-5, rel: 1e-4 },
  async run(gpu) {
    const kvShape = [c.batch, c.tk, c.numKVHeads * c.headDim];
    const q = gpu.upload(c.q, [c.batch, c.tq, c.numHeads * c.headDim]);
    const k = gpu.upload(c.k, kvShape), v = gpu.upload(c.v, kvShape);
    const keyMask = c.keyMask && gpu.upload(Uint32Array.from(c.keyMask), [c.batch, c.tk]);
    const kvLength = c.kvLength !== undefined ? gpu.upload(Uint32Array.of(c.kvLength), [1]) : undefined;
    const attrs = { numHeads: c.numHeads, numKVHeads: c.numKVHeads, headDim: c.headDim, causal: c.causal, scale: c.scale, returnProbs: !!c.probs };
    const result = attention(gpu, q, k, v, attrs, { keyMask, kvLength });
    const got = [...(await result.out.download()), ...(result.probs ? await result.probs.download() : [])];
    for (const t of [q, k, v, keyMask, kvLength, result.out, result.probs]) (t as Tensor | undefined)?.destroy();
    return { got, want: [...c.out, ...(c.probs ?? [])] };
  },
}));
