// The kernels of language-model decoding: qkvSplit (fused q|k|v → rotated q, k and v appended to
// the caches), attention from a fused qkv (the same for one token, plus attention over the cache, in one kernel), swiglu (silu(gate)·up), fusedMatvec (RMSNorm or SwiGLU folded into a projection)
// and advance (on-GPU greedy bookkeeping).
import { advance } from '../../src/ops/advance.ts';
import { fusedMatvec } from '../../src/ops/fused-matvec.ts';
import { qkvSplit } from '../../src/ops/qkv-split.ts';
import { swiglu } from '../../src/ops/swiglu.ts';
import { cachedAttention } from '../../src/ops/attention.ts';
import { attentionReference, ropeRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [B, T, H, KVH, D, capacity, position, θ (undefined: no RoPE)]; the third case runs past the capacity.
const splits: [number, number, number, number, number, number, number, number | undefined][] = [
  [1, 1, 1, 1, 2, 1, 0, 10000],
  [1, 7, 6, 2, 8, 19, 5, 10000],
  [2, 5, 3, 3, 34, 6, 3, undefined],
  [1, 13, 4, 1, 64, 40, 17, 500000],
];

/** q (as rotated or not) and the caches after the write, in float64: [q, kCache, vCache] concatenated. */
function qkvSplitRef(qkv: Float32Array, kInit: Float32Array, vInit: Float32Array, [B, T, H, KVH, D, cap, pos, theta]: (typeof splits)[number]): Float64Array {
  const width = (H + 2 * KVH) * D, kvw = KVH * D;
  const part = (from: number, w: number) => {
    const out = new Float64Array(B * T * w);
    for (let n = 0; n < B * T; n++) for (let c = 0; c < w; c++) out[n * w + c] = qkv[n * width + from + c]!;
    return out;
  };
  const rotate = (x: Float64Array, heads: number) => {
    if (theta === undefined) return x;
    const out = new Float64Array(x.length);
    for (let b = 0; b < B; b++) out.set(ropeRef(x.subarray(b * T * heads * D, (b + 1) * T * heads * D), T, heads, D, theta, pos), b * T * heads * D);
    return out;
  };
  const q = rotate(part(0, H * D), H), k = rotate(part(H * D, kvw), KVH), v = part(H * D + kvw, kvw);
  const kCache = Float64Array.from(kInit), vCache = Float64Array.from(vInit);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T && pos + t < cap; t++)
      for (let c = 0; c < kvw; c++) {
        kCache[(b * cap + pos + t) * kvw + c] = k[(b * T + t) * kvw + c]!;
        vCache[(b * cap + pos + t) * kvw + c] = v[(b * T + t) * kvw + c]!;
      }
  return Float64Array.from([...q, ...kCache, ...vCache]);
}

const splitCases: KernelCase[] = splits.map((shape, i): KernelCase => {
  const [B, T, H, KVH, D, cap, pos, theta] = shape;
  return {
    name: `qkvSplit/${theta === undefined ? 'plain' : 'rope'}/B${B}xT${T}xH${H}xKV${KVH}xD${D}/cap${cap}@${pos}`,
    // f32 RoPE angles at positions up to ~30: a few ulp of the angle (see rope.cases.ts)
    tolerance: { abs: 3e-5, rel: 1e-5 },
    async run(gpu) {
      const rng = new Rng(900 + i);
      const qkvHost = rng.normal(B * T * (H + 2 * KVH) * D);
      const kHost = rng.normal(B * cap * KVH * D), vHost = rng.normal(B * cap * KVH * D);
      const qkv = gpu.upload(qkvHost, [B, T, (H + 2 * KVH) * D]);
      const kCache = gpu.upload(kHost, [B, cap, KVH * D]), vCache = gpu.upload(vHost, [B, cap, KVH * D]);
      const position = gpu.upload(new Uint32Array([pos]), [1]);
      const q = qkvSplit(gpu, qkv, position, kCache, vCache, { numHeads: H, numKVHeads: KVH, headDim: D, theta });
      const got = Float32Array.from([...(await q.download()), ...(await kCache.download()), ...(await vCache.download())]);
      [qkv, kCache, vCache, position, q].forEach((t) => t.destroy());
      return { got, want: qkvSplitRef(qkvHost, kHost, vHost, shape) };
    },
  };
});

const swigluCases: KernelCase[] = ([[1, 1], [7, 13], [3, 172], [2, 1031]] as const).map(([rows, F], i): KernelCase => ({
  name: `swiglu/${rows}x${F}`,
  tolerance: { abs: 1e-6, rel: 1e-5 },
  async run(gpu) {
    const host = new Rng(950 + i).normal(rows * 2 * F, 3);
    const x = gpu.upload(host, [rows, 2 * F]);
    const out = swiglu(gpu, x);
    const got = await out.download();
    [x, out].forEach((t) => t.destroy());
    const want = new Float64Array(rows * F);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < F; c++) {
        const gate = host[r * 2 * F + c]!, up = host[r * 2 * F + F + c]!;
        want[r * F + c] = (gate / (1 + Math.exp(-gate))) * up;
      }
    return { got, want };
  },
}));

const advanceCases: KernelCase[] = [false, true].map((fromLogits): KernelCase => ({
  name: `advance/${fromLogits ? 'argmax' : 'id'}/three-steps`,
  tolerance: { abs: 0, rel: 0 },
  async run(gpu) {
    const next = gpu.upload(new Int32Array([0]), [1]);
    const logits = gpu.upload(new Float32Array(37), [1, 37]);
    const ids = gpu.upload(new Int32Array([5]), [1, 1]);
    const position = gpu.upload(new Uint32Array([3]), [1]);
    const kvLength = gpu.upload(new Uint32Array([4]), [1]);
    const history = gpu.upload(new Int32Array(6).fill(-1), [6]);
    for (const id of [11, 12, 36]) {
      if (fromLogits) {
        const row = new Rng(id).normal(37);
        row[id] = 10;
        row[(id + 5) % 37] = 10; // a tie: the first index wins
        gpu.write(logits, row);
      } else {
        gpu.write(next, [id]);
      }
      // the third step's id lands past the end of history and is dropped there
      advance(gpu, { ...(fromLogits ? { logits } : { next }), ids, position, kvLength, history });
    }
    const got = [...(await ids.download()), ...(await position.download()), ...(await kvLength.download()), ...(await history.download())];
    [next, logits, ids, position, kvLength, history].forEach((t) => t.destroy());
    return { got, want: [fromLogits ? 4 : 36, 6, 7, -1, -1, -1, -1, 11, 12] };
  },
}));

// [prologue, N, K, residual]
const fusedShapes: ['rmsnorm' | 'swiglu' | 'none', number, number, boolean][] = [
  ['none', 64, 64, true],
  ['none', 13, 5, false],
  ['rmsnorm', 1, 1, false],
  ['rmsnorm', 128, 64, false],
  ['rmsnorm', 37, 131, true],
  ['swiglu', 64, 172, true],
  ['swiglu', 1000, 7, false],
];

const fusedCases: KernelCase[] = fusedShapes.map(([prologue, N, K, withResidual], i): KernelCase => ({
  name: `fusedMatvec/${prologue}${withResidual ? '_residual' : ''}/${N}x${K}`,
  tolerance: { abs: 1e-5, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(970 + i);
    const width = prologue === 'swiglu' ? 2 * K : K;
    const aHost = rng.normal(width, 2), bHost = rng.normal(N * K, 1 / Math.sqrt(K)), gainHost = rng.normal(K, 0.1, 1), resHost = rng.normal(N);
    const a = gpu.upload(aHost, [1, 1, width]), b = gpu.upload(bHost, [N, K]);
    const gain = prologue === 'rmsnorm' ? gpu.upload(gainHost, [K]) : undefined;
    const residual = withResidual ? gpu.upload(resHost, [1, 1, N]) : undefined;
    const out = fusedMatvec(gpu, a, b, { prologue, eps: 1e-5 }, { gain, residual });
    const got = await out.download();
    [a, b, out, ...(gain ? [gain] : []), ...(residual ? [residual] : [])].forEach((t) => t.destroy());
    const x = new Float64Array(K);
    const meanSquare = aHost.slice(0, K).reduce((s, v) => s + v * v, 0) / K;
    for (let k = 0; k < K; k++) {
      if (prologue === 'rmsnorm') x[k] = (aHost[k]! / Math.sqrt(meanSquare + 1e-5)) * gainHost[k]!;
      else if (prologue === 'swiglu') x[k] = (aHost[k]! / (1 + Math.exp(-aHost[k]!))) * aHost[K + k]!;
      else x[k] = aHost[k]!;
    }
    const want = Float64Array.from({ length: N }, (_, n) => {
      let sum = withResidual ? resHost[n]! : 0;
      for (let k = 0; k < K; k++) sum += x[k]! * bHost[n * K + k]!;
      return sum;
    });
    return { got, want };
  },
}));

// [B, H, KVH, D, capacity, position, θ]: one token at row `position` attends to rows 0 .. position.
const decodeShapes: [number, number, number, number, number, number, number | undefined][] = [
  [1, 1, 1, 2, 1, 0, 10000],
  [1, 8, 4, 8, 19, 11, 10000],
  [2, 3, 3, 34, 9, 5, undefined],
  [1, 4, 1, 64, 200, 150, 500000], // more keys than invocations
];

const decodeCases: KernelCase[] = decodeShapes.map(([B, H, KVH, D, cap, pos, theta], i): KernelCase => ({
  name: `decodeAttention/${theta === undefined ? 'plain' : 'rope'}/B${B}xH${H}xKV${KVH}xD${D}/cap${cap}@${pos}`,
  tolerance: { abs: 5e-5, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(990 + i);
    const qkvHost = rng.normal(B * (H + 2 * KVH) * D);
    const kHost = rng.normal(B * cap * KVH * D), vHost = rng.normal(B * cap * KVH * D);
    const qkv = gpu.upload(qkvHost, [B, 1, (H + 2 * KVH) * D]);
    const kCache = gpu.upload(kHost, [B, cap, KVH * D]), vCache = gpu.upload(vHost, [B, cap, KVH * D]);
    const position = gpu.upload(new Uint32Array([pos]), [1]);
    const out = cachedAttention(gpu, qkv, { position, kCache, vCache }, { numHeads: H, numKVHeads: KVH, headDim: D, theta });
    const got = Float32Array.from([...(await out.download()), ...(await kCache.download()), ...(await vCache.download())]);
    [qkv, kCache, vCache, position, out].forEach((t) => t.destroy());
    const split = qkvSplitRef(qkvHost, kHost, vHost, [B, 1, H, KVH, D, cap, pos, theta]);
    const q = split.subarray(0, B * H * D), caches = split.subarray(B * H * D);
    const kAfter = caches.subarray(0, B * cap * KVH * D), vAfter = caches.subarray(B * cap * KVH * D);
    const attention = attentionReference(q, kAfter, vAfter, { batch: B, tq: 1, tk: cap, numHeads: H, numKVHeads: KVH, headDim: D, scale: 1 / Math.sqrt(D), causal: true, kvLength: pos + 1 });
    return { got, want: Float64Array.from([...attention.out, ...caches]) };
  },
}));

export const cases: KernelCase[] = [...splitCases, ...decodeCases, ...swigluCases, ...fusedCases, ...advanceCases];
