// llamaDecodeStep: a whole Llama decode step in one dispatch, against a float64 CPU forward of
// the same step (embedding, RMSNorm, q|k|v, RoPE, cache append, grouped-query attention over rows
// 0 .. p, output projection, SwiGLU MLP, final norm, classifier, argmax). Odd shapes: prime
// widths, one kv head for three query heads, positions 0 and ones that divide by nothing; caches
// start full of random rows (earlier steps), and rows past p must stay as they were.
import { advance } from '../../src/ops/advance.ts';
import { llamaDecodeStep, LlamaStepTexture, packLlamaDecodeStepWeights, type LlamaStepShape, type LlamaStepWeights } from '../../src/ops/llama-decode-step.ts';
import type { Tensor } from '../../src/device/tensor.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

const odd: LlamaStepShape = { vocabSize: 97, dim: 24, hiddenDim: 37, numLayers: 2, numHeads: 3, numKVHeads: 1, headDim: 8, eps: 1e-5, ropeTheta: 10000 };
// headDim ≠ dim / numHeads, a large θ; run with a tied classifier.
const wide: LlamaStepShape = { vocabSize: 61, dim: 20, hiddenDim: 29, numLayers: 3, numHeads: 12, numKVHeads: 4, headDim: 6, eps: 1e-6, ropeTheta: 500000 };

/** [shape, tied classifier, cache rows, position, greedy steps (0: logits mode)] */
const runs: [LlamaStepShape, boolean, number, number, number][] = [
  [odd, false, 17, 0, 0],
  [odd, false, 17, 13, 0],
  [wide, true, 40, 39, 0],
  [odd, false, 17, 5, 4],
  [wide, true, 40, 0, 3],
];

interface Model {
  s: LlamaStepShape;
  tied: boolean;
  w: LlamaStepWeights;
}

/** Seeded weights: norms near 1, matrices scaled by 1/√fan-in. */
function randomModel(s: LlamaStepShape, tied: boolean, rng: Rng): Model {
  const Q = s.numHeads * s.headDim, KV = s.numKVHeads * s.headDim, D = s.dim, F = s.hiddenDim;
  const matrix = (rows: number, cols: number) => rng.normal(rows * cols, 1 / Math.sqrt(cols));
  const norm = () => rng.uniform(D, 0.5, 1.5);
  const embed = rng.normal(s.vocabSize * D);
  const layers = Array.from({ length: s.numLayers }, () => ({
    attnNorm: norm(), qkv: matrix(Q + 2 * KV, D), o: matrix(D, Q), mlpNorm: norm(), gateUp: matrix(2 * F, D), down: matrix(D, F),
  }));
  return { s, tied, w: { embed, layers, norm: norm(), classifier: tied ? embed : matrix(s.vocabSize, D) } };
}

/** One step in float64: the logits of token `id` at position p; writes row p of the caches [layers, rows, KV]. */
function stepRef({ s, w }: Model, k: Float64Array, v: Float64Array, rows: number, id: number, p: number): Float64Array {
  const { dim: D, hiddenDim: F, headDim: HD } = s;
  const Q = s.numHeads * HD, KV = s.numKVHeads * HD;
  const rmsnorm = (x: Float64Array, gain: Float32Array) => {
    const r = 1 / Math.sqrt(x.reduce((a, b) => a + b * b, 0) / D + s.eps);
    return x.map((xi, i) => xi * r * gain[i]!);
  };
  const linear = (x: Float64Array, W: Float32Array) =>
    Float64Array.from({ length: W.length / x.length }, (_, row) => x.reduce((a, xi, c) => a + xi * W[row * x.length + c]!, 0));
  const rope = (x: Float64Array) => {
    for (let i = 0; i < x.length; i += 2) {
      const angle = p * s.ropeTheta ** -((i % HD) / HD);
      const [a, b] = [x[i]!, x[i + 1]!];
      x[i] = a * Math.cos(angle) - b * Math.sin(angle);
      x[i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
    }
    return x;
  };
  let x = Float64Array.from(w.embed.subarray(id * D, (id + 1) * D));
  w.layers.forEach((layer, l) => {
    const qkv = linear(rmsnorm(x, layer.attnNorm), layer.qkv);
    const q = rope(qkv.slice(0, Q));
    k.set(rope(qkv.slice(Q, Q + KV)), (l * rows + p) * KV);
    v.set(qkv.slice(Q + KV), (l * rows + p) * KV);
    const attention = new Float64Array(Q);
    for (let h = 0; h < s.numHeads; h++) {
      const kvh = Math.floor(h / (s.numHeads / s.numKVHeads));
      const scores = Array.from({ length: p + 1 }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < HD; d++) dot += q[h * HD + d]! * k[(l * rows + j) * KV + kvh * HD + d]!;
        return dot / Math.sqrt(HD);
      });
      const max = Math.max(...scores);
      const e = scores.map((sc) => Math.exp(sc - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= p; j++) for (let d = 0; d < HD; d++) attention[h * HD + d] += (e[j]! / sum) * v[(l * rows + j) * KV + kvh * HD + d]!;
    }
    const o = linear(attention, layer.o);
    x = x.map((xi, i) => xi + o[i]!);
    const gateUp = linear(rmsnorm(x, layer.mlpNorm), layer.gateUp);
    const hidden = Float64Array.from({ length: F }, (_, j) => (gateUp[j]! / (1 + Math.exp(-gateUp[j]!))) * gateUp[F + j]!);
    const down = linear(hidden, layer.down);
    x = x.map((xi, i) => xi + down[i]!);
  });
  return linear(rmsnorm(x, w.norm), w.classifier);
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export const cases: KernelCase[] = runs.map(([s, tied, rows, p, steps], i): KernelCase => ({
  name: `llamaDecodeStep/${steps ? `greedy×${steps}` : 'logits'}/D${s.dim}xF${s.hiddenDim}xL${s.numLayers}xV${s.vocabSize}xH${s.numHeads}xKV${s.numKVHeads}xHD${s.headDim}${tied ? '-tied' : ''}/rows${rows}@${p}`,
  tolerance: { abs: 1e-4, rel: 1e-4 },
  async run(gpu) {
    const rng = new Rng(4100 + i);
    const KV = s.numKVHeads * s.headDim;
    const model = randomModel(s, tied, rng);
    const kHost = rng.normal(s.numLayers * rows * KV), vHost = rng.normal(s.numLayers * rows * KV);
    const first = 1 + ((7 * i) % (s.vocabSize - 1));
    const weights = LlamaStepTexture.upload(gpu, packLlamaDecodeStepWeights(s, model.w));
    const k = Float64Array.from(kHost), v = Float64Array.from(vHost);
    const got: number[] = [], want: number[] = [];
    /** Fresh caches and state at position p, run by `steps`, then the caches read back. */
    const withState = async (steps: (state: { kCache: Tensor; vCache: Tensor; ids: Tensor; position: Tensor }) => Promise<void>) => {
      const state = {
        kCache: gpu.upload(kHost, [s.numLayers, rows, KV]), vCache: gpu.upload(vHost, [s.numLayers, rows, KV]),
        ids: gpu.upload(new Int32Array([first]), [1, 1], 'i32'), position: gpu.upload(new Uint32Array([p]), [1], 'u32'),
      };
      await steps(state);
      got.push(...(await state.kCache.download()), ...(await state.vCache.download()));
      Object.values(state).forEach((t) => t.destroy());
    };
    if (steps === 0) {
      await withState(async ({ kCache, vCache, ids, position }) => {
        const logits = llamaDecodeStep(gpu, weights, kCache, vCache, ids, position, s);
        got.push(...(await logits.download()));
        logits.destroy();
      });
      want.push(...stepRef(model, k, v, rows, first, p), ...k, ...v);
    } else {
      // Greedy steps chained on the GPU: by the advance kernel after each step, by the step's own
      // argmax and advance one step a dispatch, and all steps in one dispatch (what
      // LanguageModel runs): the ids chosen, the state, the caches.
      const chosen = new Array<number>(rows + 1).fill(-1);
      let next = first;
      const kFinal = Float64Array.from(k), vFinal = Float64Array.from(v);
      for (let t = 0; t < steps; t++) chosen[p + t + 1] = next = argmax(stepRef(model, kFinal, vFinal, rows, next, p + t));
      for (const perDispatch of [0, 1, steps]) {
        await withState(async ({ kCache, vCache, ids, position }) => {
          const kvLength = gpu.upload(new Uint32Array([p + 1]), [1], 'u32');
          const history = gpu.upload(new Int32Array(rows + 1).fill(-1), [rows + 1], 'i32');
          const stepCount = gpu.upload(new Uint32Array([perDispatch]), [1], 'u32');
          for (let t = 0; t < steps; t += Math.max(perDispatch, 1)) {
            const logits = llamaDecodeStep(gpu, weights, kCache, vCache, ids, position, s, perDispatch ? { kvLength, history, steps: stepCount } : undefined);
            if (!perDispatch) advance(gpu, { logits, ids, position, kvLength, history });
            logits.destroy();
          }
          got.push(...(await history.download()), ...(await ids.download()), ...(await position.download()), ...(await kvLength.download()));
          [kvLength, history, stepCount].forEach((t) => t.destroy());
        });
        want.push(...chosen, next, p + steps, p + steps + 1, ...kFinal, ...vFinal);
      }
    }
    weights.destroy();
    return { got, want };
  },
}));
