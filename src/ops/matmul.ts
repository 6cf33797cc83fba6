import type { BufferSlice, Dispatch, Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor, TensorRef } from '../device/tensor.ts';
import tiledSource from '../../shaders/matmul.wgsl';
import matvecSource from '../../shaders/matvec.wgsl';
import { expectDType, expectShape, required, runOp, slice, type Named, type OpDef, type TensorSpec } from './op.ts';
import { activationDefines, type Activation } from './activation.ts';
import { specialize, Uniforms } from './shader.ts';

export type { Activation };

export interface MatmulAttrs {
  /** b is stored [N, K] (nn.Linear's [out, in] weight) and used transposed, without a copy. */
  transposeB?: boolean;
  activation?: Activation;
  /**
   * Largest byte range of b bound to one storage binding; a larger b is split into chunks that
   * fit. Defaults to the device's maxStorageBufferBindingSize; tests lower it to exercise the split.
   */
  maxBindingBytes?: number;
}

/** Output columns per workgroup of the matrix-vector kernel (its 16 invocations, 4 columns each). */
const MATVEC_COLUMNS = 64;

interface Dims {
  /** Batches of b: 1 when b is shared, whose batches of a are folded into M. */
  batch: number;
  M: number;
  N: number;
  K: number;
  /** b has a batch dimension of its own (else one 2-D b serves every batch). */
  bBatched: boolean;
}

function dims(inputs: Named<TensorSpec>, attrs: MatmulAttrs): Dims {
  const a = required('matmul', inputs, 'a');
  const b = required('matmul', inputs, 'b');
  expectDType('matmul', 'a', a, 'f32');
  expectDType('matmul', 'b', b, 'f32');
  if (a.shape.length < 2) throw new ShapeError(`matmul: input 'a' has shape ${formatShape(a.shape)}, expected [...batch, M, K]`);
  const batchShape = a.shape.slice(0, -2);
  const bBatched = b.shape.length > 2;
  if (bBatched && (b.shape.length !== a.shape.length || batchShape.some((d, i) => d !== b.shape[i]))) {
    throw new ShapeError(`matmul: b ${formatShape(b.shape)} must be 2-D or have a's batch dimensions ${formatShape(batchShape)} (a is ${formatShape(a.shape)})`);
  }
  if (b.shape.length < 2) throw new ShapeError(`matmul: input 'b' has shape ${formatShape(b.shape)}, expected rank 2 or more`);
  const M = a.shape.at(-2)!, K = a.shape.at(-1)!;
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [bK, N] = attrs.transposeB ? [bCols, bRows] : [bRows, bCols];
  if (bK !== K) {
    const layout = attrs.transposeB ? '[N, K] (transposeB)' : '[K, N]';
    throw new ShapeError(`matmul: a ${formatShape(a.shape)} has K = ${K} but b ${formatShape(b.shape)}, read as ${layout}, has K = ${bK}`);
  }
  // A shared b sees a [...batch, M, K], which is contiguous, as one matrix [batch·M, K] (and out
  // likewise), so the kernel is chosen by the number of rows, not by how the caller shaped them.
  const batch = shapeSize(batchShape);
  return bBatched ? { batch, M, N, K, bBatched } : { batch: 1, M: batch * M, N, K, bBatched };
}

/**
 * Rows per workgroup of the matrix-vector kernel for M rows (1, 2, 4 or 8: the smallest that
 * covers M, else gpu.tuning.matvec.maxRows in several row groups), or null when M is for the
 * tiled kernel (M > gpu.tuning.matvec.maxM).
 */
function matvecRows(gpu: Gpu, M: number): number | null {
  const { maxM, maxRows } = gpu.tuning.matvec;
  if (M > maxM) return null;
  let rows = 1;
  while (rows < M && rows < maxRows) rows *= 2;
  return rows;
}

/** One dispatch's share of b: output columns [n, n + nCount) and reduction range [k, k + kCount). */
interface Chunk {
  n: number;
  nCount: number;
  k: number;
  kCount: number;
  binding: BufferSlice;
}

function gcd(x: number, y: number): number {
  return y === 0 ? x : gcd(y, x % y);
}

/**
 * Cut b into pieces that each fit one binding, at offsets the device can bind (multiples of
 * minStorageBufferOffsetAlignment). Transposed b is cut by output columns (its rows), plain b by
 * k (its rows, a multiple of 4 each so that vec4 reads of a stay aligned).
 */
function chunksOfB(b: TensorRef, d: Dims, transposeB: boolean, maxBindingBytes: number, offsetAlignment: number): Chunk[] {
  const whole = slice(b);
  if (whole.size <= maxBindingBytes) return [{ n: 0, nCount: d.N, k: 0, kCount: d.K, binding: whole }];
  const what = `matmul: b ${formatShape(b.shape)} (${whole.size} bytes) exceeds the binding limit of ${maxBindingBytes} bytes`;
  if (d.bBatched) throw new LimitError(`${what}, and only a 2-D b can be split across bindings`);
  if (b.offset % offsetAlignment !== 0) throw new LimitError(`${what}, and it starts at byte ${b.offset}, not a multiple of ${offsetAlignment}, so it cannot be split`);
  const rows = transposeB ? d.N : d.K;
  const rowBytes = 4 * (transposeB ? d.K : d.N);
  let step = offsetAlignment / gcd(rowBytes, offsetAlignment); // rows per aligned offset
  if (!transposeB) step = (step * 4) / gcd(step, 4);
  const rowsPerChunk = Math.floor(maxBindingBytes / rowBytes / step) * step;
  if (rowsPerChunk === 0) throw new LimitError(`${what}, and ${step} of its rows (${step * rowBytes} bytes) do not fit one binding`);
  const chunks: Chunk[] = [];
  for (let first = 0; first < rows; first += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - first);
    const binding = { buffer: b.buffer, offset: b.offset + first * rowBytes, size: count * rowBytes };
    chunks.push(transposeB ? { n: first, nCount: count, k: 0, kCount: d.K, binding } : { n: 0, nCount: d.N, k: first, kCount: count, binding });
  }
  return chunks;
}

function checkBindable(gpu: Gpu, t: TensorRef, name: string): void {
  const bytes = slice(t).size, limit = gpu.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new LimitError(`matmul: ${name} ${formatShape(t.shape)} (${bytes} bytes) exceeds maxStorageBufferBindingSize (${limit} bytes); only b can be split`);
  }
}

/**
 * out = activation(a · op(b) + bias) + residual, op(b) = b or bᵀ. a is [...batch, M, K]; b is
 * [K, N] ([N, K] with transposeB), or batched like a; bias is [N]; residual has out's shape.
 * A shared (2-D) b treats a's batch dimensions as more rows. Up to gpu.tuning.matvec.maxM rows run
 * the matrix-vector kernel, which reads each weight once for up to 8 rows; more the register-tiled one.
 */
export const matmulOp: OpDef<MatmulAttrs> = {
  name: 'matmul',
  infer(inputs, attrs) {
    const { N } = dims(inputs, attrs);
    const shape = [...inputs.a!.shape.slice(0, -1), N];
    if (inputs.bias) {
      expectDType('matmul', 'bias', inputs.bias, 'f32');
      expectShape('matmul', 'bias', inputs.bias, [N]);
    }
    if (inputs.residual) {
      expectDType('matmul', 'residual', inputs.residual, 'f32');
      expectShape('matmul', 'residual', inputs.residual, shape);
    }
    return { out: { shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const a = inputs.a!, b = inputs.b!, out = outputs.out!, bias = inputs.bias, residual = inputs.residual;
    const d = dims(inputs, attrs);
    const transposeB = attrs.transposeB ?? false;
    const activation = attrs.activation ?? 'none';
    const maxBindingBytes = Math.min(attrs.maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
    checkBindable(gpu, a, 'a');
    checkBindable(gpu, out, 'out');
    if (residual) checkBindable(gpu, residual, 'residual');
    const chunks = chunksOfB(b, d, transposeB, maxBindingBytes, gpu.limits.minStorageBufferOffsetAlignment);
    const matvecRowCount = matvecRows(gpu, d.M);
    const rowBlocks = gpu.tuning.matmul.rowBlocks;
    const matvec = matvecRowCount !== null;
    const vec4 = d.K % 4 === 0 && (transposeB || d.N % 4 === 0);
    // Rows of a are shared by subgroup broadcasts when a subgroup (one row block's lanes) has a fixed
    // size of at least 8 (one lane per row).
    const subgroupLanes = gpu.broadcastLanes;
    const lanes = subgroupLanes ?? 8; // invocations per row block, 4 columns each
    const bBatchStride = d.bBatched ? d.K * d.N : 0;

    return chunks.map((chunk, i): Dispatch => {
      // Chunks along n (transposed b) are independent; chunks along k add up, the last one finishing.
      const first = transposeB || i === 0, last = transposeB || i === chunks.length - 1;
      const withBias = last && !!bias, withResidual = last && !!residual;
      const defines = {
        TRANSPOSE_B: transposeB,
        VEC4: vec4,
        SUBGROUPS: subgroupLanes !== null,
        LANES: lanes,
        ROW_BLOCKS: rowBlocks,
        ROWS: matvecRowCount ?? 0,
        ROWS_2: (matvecRowCount ?? 0) >= 2,
        ROWS_4: (matvecRowCount ?? 0) >= 4,
        ROWS_8: (matvecRowCount ?? 0) >= 8,
        ACCUMULATE: !first,
        EPILOGUE: last,
        BIAS: withBias,
        RESIDUAL: withResidual,
        RESIDUAL_BINDING: withBias ? 5 : 4,
        ...activationDefines(last ? activation : 'none'),
      };
      const variant = [
        transposeB ? 'bt' : 'b',
        vec4 ? 'vec4' : 'scalar',
        chunks.length > 1 && !transposeB ? `k${first ? 'first' : last ? 'last' : 'mid'}` : '',
        last && activation !== 'none' ? activation : '',
        withBias ? 'bias' : '',
        withResidual ? 'residual' : '',
      ].filter(Boolean).join('_');
      const kernel = `${matvec ? `matvec${matvecRowCount}` : 'matmul'}_${variant}`;
      const code = specialize(kernel, matvec ? matvecSource : tiledSource, defines);
      const bindings: BufferSlice[] = [slice(a), chunk.binding, slice(out)];
      if (withBias) bindings.push(slice(bias!));
      if (withResidual) bindings.push(slice(residual!));
      const flops = 2 * d.batch * d.M * chunk.nCount * chunk.kCount;
      const bytes = 4 * (d.batch * d.M * chunk.kCount + (d.bBatched ? d.batch : 1) * chunk.nCount * chunk.kCount + d.batch * d.M * chunk.nCount);
      const uniforms = new Uniforms().u32(d.M).u32(d.N).u32(d.K).u32(chunk.k).u32(chunk.kCount).u32(chunk.n).u32(chunk.nCount).u32(bBatchStride);
      const workgroups: [number, number, number] = matvec
        ? [Math.ceil(chunk.nCount / MATVEC_COLUMNS), Math.ceil(d.M / matvecRowCount), d.batch]
        : [Math.ceil(chunk.nCount / (4 * lanes)), Math.ceil(d.M / (16 * rowBlocks)), d.batch];
      return { kernel, pipeline: gpu.pipeline(kernel, code), uniforms: uniforms.finish(), bindings, workgroups, flops, bytes };
    });
  },
  cost(inputs, attrs) {
    const d = dims(inputs, attrs);
    const bCount = (d.bBatched ? d.batch : 1) * d.K * d.N;
    return { flops: 2 * d.batch * d.M * d.N * d.K, bytes: 4 * (d.batch * d.M * (d.K + d.N) + bCount) };
  },
};

export interface MatmulOptions extends MatmulAttrs {
  bias?: Tensor;
  residual?: Tensor;
}

/** Eager `activation(a · op(b) + bias) + residual`; see `matmulOp`. */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const { bias, residual, ...attrs } = options;
  return runOp(gpu, matmulOp, { a, b, bias, residual }, attrs).out!;
}
