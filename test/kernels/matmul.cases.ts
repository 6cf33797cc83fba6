import type { Gpu } from '../../src/device/gpu.ts';
import { matmul, type Activation } from '../../src/ops/matmul.ts';
import { matmulRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

interface Spec {
  /** a's batch dimensions ([] for a plain [M, K] matrix). */
  batch?: number[];
  M: number;
  N: number;
  K: number;
  transposeB: boolean;
  /** b carries a's batch dimensions instead of being one shared 2-D matrix. */
  bBatched?: boolean;
  activation?: Activation;
  bias?: boolean;
  residual?: boolean;
  /** Lowered binding limit, to split b across bindings as the 154 MB GPT-2 LM head is. */
  maxBindingBytes?: number;
}

function name(s: Spec): string {
  const shape = `${s.batch?.length ? s.batch.join('x') + 'x' : ''}${s.M}x${s.K}x${s.N}`;
  const parts = [s.transposeB ? 'bt' : 'b', shape];
  if (s.bBatched) parts.push('batched_b');
  if (s.bias) parts.push('bias');
  if (s.activation && s.activation !== 'none') parts.push(s.activation);
  if (s.residual) parts.push('residual');
  if (s.maxBindingBytes) parts.push(`split${s.maxBindingBytes}`);
  return `matmul/${parts.join('/')}`;
}

function matmulCase(s: Spec, seed: number): KernelCase {
  return {
    name: name(s),
    // fp32 accumulation: the error of a K-term dot product grows about linearly with K.
    tolerance: { abs: 1e-5 + 1e-6 * s.K, rel: 1e-5 },
    async run(gpu: Gpu) {
      const rng = new Rng(seed);
      const batchShape = s.batch ?? [];
      const batch = batchShape.reduce((x, y) => x * y, 1);
      const bShape2 = s.transposeB ? [s.N, s.K] : [s.K, s.N];
      const bShape = s.bBatched ? [...batchShape, ...bShape2] : bShape2;
      const outShape = [...batchShape, s.M, s.N];
      const av = rng.normal(batch * s.M * s.K);
      const bv = rng.normal((s.bBatched ? batch : 1) * s.K * s.N, 1 / Math.sqrt(s.K));
      const biasv = s.bias ? rng.normal(s.N) : undefined;
      const residualv = s.residual ? rng.normal(batch * s.M * s.N) : undefined;
      const a = gpu.upload(av, [...batchShape, s.M, s.K]);
      const b = gpu.upload(bv, bShape);
      const bias = biasv && gpu.upload(biasv, [s.N]);
      const residual = residualv && gpu.upload(residualv, outShape);
      const out = matmul(gpu, a, b, { transposeB: s.transposeB, activation: s.activation, bias, residual, maxBindingBytes: s.maxBindingBytes });
      const got = await out.download();
      [a, b, out, bias, residual].forEach((t) => t?.destroy());
      const want = matmulRef(av, bv, { batch, M: s.M, N: s.N, K: s.K, transposeB: s.transposeB, bBatched: s.bBatched }, { bias: biasv, residual: residualv, activation: s.activation });
      return { got, want };
    },
  };
}

// Sizes around every tile edge: the tiled kernel covers 8 rows × 4·(8..64) columns in steps of
// 4 k; the matrix-vector kernel 32 columns, K split 8 ways in vec4s.
const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 3, 17], [3, 17, 1], [17, 3, 5], [64, 64, 64], [67, 129, 17], [129, 67, 64],
  [3, 129, 67], [64, 3, 129], [129, 129, 129], [9, 260, 36], [8, 256, 12],
  [1, 129, 67], [1, 67, 129], [1, 64, 64], [1, 257, 33],
];

const specs: Spec[] = [];
for (const transposeB of [false, true]) {
  for (const [M, N, K] of shapes) specs.push({ M, N, K, transposeB });
  specs.push(
    { batch: [2, 3], M: 17, N: 13, K: 20, transposeB },
    { batch: [2, 3], M: 17, N: 13, K: 20, transposeB, bBatched: true },
    { batch: [5], M: 1, N: 67, K: 33, transposeB },
    { batch: [2], M: 1, N: 20, K: 12, transposeB, bBatched: true },
  );
  for (const activation of ['gelu_tanh', 'gelu_erf', 'silu', 'relu'] as const) {
    specs.push({ M: 17, N: 67, K: 33, transposeB, activation, bias: true });
    specs.push({ M: 1, N: 67, K: 33, transposeB, activation, bias: true });
  }
  specs.push(
    { M: 17, N: 67, K: 33, transposeB, bias: true, residual: true },
    { batch: [2], M: 9, N: 64, K: 64, transposeB, activation: 'gelu_tanh', bias: true, residual: true },
    { M: 1, N: 67, K: 33, transposeB, activation: 'gelu_erf', bias: true, residual: true },
    // Split b: 1 KiB bindings cut b's 256-byte rows into chunks of 4 rows (17 chunks); rows of
    // 600 bytes align to 256 only every 32 rows (3 chunks).
    { M: 17, ...(transposeB ? { N: 67, K: 64 } : { N: 64, K: 67 }), transposeB, maxBindingBytes: 1024, activation: 'gelu_tanh', bias: true, residual: true },
    { M: 1, ...(transposeB ? { N: 67, K: 64 } : { N: 64, K: 67 }), transposeB, maxBindingBytes: 1024, bias: true },
    { M: 5, ...(transposeB ? { N: 150, K: 67 } : { N: 67, K: 150 }), transposeB, maxBindingBytes: 20000 },
    { M: 1, ...(transposeB ? { N: 150, K: 67 } : { N: 67, K: 150 }), transposeB, maxBindingBytes: 20000, activation: 'relu', residual: true },
  );
}

// A few rows (beams, sources, classifier-free guidance): the matrix-vector kernel applies each
// value of b to 1, 2, 4 or 8 rows (the smallest that covers M ≤ 8; rows past M are not stored),
// 9 to 16 rows in two groups of 8; 17 rows and more go to the tiled kernel. a's batch dimensions
// count as rows when b is shared. 64 columns per workgroup: N = 67, 129, 257 leave a short last one.
for (const transposeB of [false, true]) {
  for (const [M, N, K] of [[2, 257, 67], [3, 1, 1], [3, 64, 36], [5, 67, 129], [8, 300, 64], [8, 17, 3], [9, 67, 33], [16, 65, 20], [17, 67, 33], [2, 4, 4]] as const) {
    specs.push({ M, N, K, transposeB });
  }
  specs.push(
    { batch: [4], M: 1, N: 67, K: 33, transposeB },
    { batch: [2, 3], M: 1, N: 260, K: 64, transposeB },
    { batch: [2], M: 4, N: 129, K: 36, transposeB },
    { batch: [3], M: 3, N: 20, K: 12, transposeB },
    { batch: [2], M: 3, N: 20, K: 12, transposeB, bBatched: true },
    { batch: [3], M: 5, N: 13, K: 7, transposeB, bBatched: true },
  );
  for (const activation of ['gelu_tanh', 'gelu_erf', 'silu', 'relu'] as const) specs.push({ M: 3, N: 67, K: 33, transposeB, activation, bias: true });
  specs.push(
    { M: 5, N: 67, K: 33, transposeB, activation: 'gelu_erf', bias: true, residual: true },
    { batch: [4], M: 1, N: 64, K: 64, transposeB, activation: 'silu', bias: true, residual: true },
    { M: 3, ...(transposeB ? { N: 67, K: 64 } : { N: 64, K: 67 }), transposeB, maxBindingBytes: 1024, activation: 'gelu_tanh', bias: true, residual: true },
    { M: 8, ...(transposeB ? { N: 150, K: 67 } : { N: 67, K: 150 }), transposeB, maxBindingBytes: 20000, bias: true },
  );
}

export const cases: KernelCase[] = specs.map((s, i) => matmulCase(s, 4000 + i));
