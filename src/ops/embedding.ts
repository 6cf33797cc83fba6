import type { Dispatch, Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/embedding.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

export interface EmbeddingAttrs {
  /** Multiplies the token rows (e.g. √D for Gemma); default 1. */
  scale?: number;
  /**
   * Largest binding to use for the table, in bytes; default (and at most) the device's
   * maxStorageBufferBindingSize. Lowering it only makes the table split into more chunks:
   * it exists so tests can exercise the split path with a small table.
   */
  maxBindingBytes?: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Vocabulary rows per binding: as many as fit in `maxBytes`, rounded down so every chunk
 * starts at a byte offset that is a multiple of the storage offset alignment.
 */
export function embeddingChunkRows(d: number, maxBytes: number, alignment: number): number {
  const rowBytes = 4 * d;
  const alignRows = alignment / gcd(rowBytes, alignment);
  const rows = Math.floor(Math.floor(maxBytes / rowBytes) / alignRows) * alignRows;
  if (rows === 0) throw new LimitError(`embedding: one table row of ${rowBytes} bytes (with alignment) does not fit in a ${maxBytes}-byte storage binding`);
  return rows;
}

/**
 * Token embedding (+ learned positions): out[..., t, :] = scale · table[ids[..., t]] + positions[offset + t],
 * with offset = position[0] when the `position` input is given, else 0. Out-of-range ids give
 * a zero token row (no out-of-bounds read); out-of-range positions add zero.
 */
export const embeddingOp: OpDef<EmbeddingAttrs> = {
  name: 'embedding',
  infer(inputs) {
    const ids = required('embedding', inputs, 'ids');
    const table = required('embedding', inputs, 'table');
    expectDType('embedding', 'ids', ids, 'i32');
    if (ids.shape.length < 1) throw new ShapeError(`embedding: input 'ids' must have at least one dimension, got ${formatShape(ids.shape)}`);
    expectDType('embedding', 'table', table, 'f32');
    expectRank('embedding', 'table', table, 2);
    const d = table.shape[1]!;
    const positions = inputs.positions, position = inputs.position;
    if (positions) {
      expectDType('embedding', 'positions', positions, 'f32');
      expectRank('embedding', 'positions', positions, 2);
      if (positions.shape[1] !== d) {
        throw new ShapeError(`embedding: positions ${formatShape(positions.shape)} and table ${formatShape(table.shape)} differ in width`);
      }
    }
    if (position) {
      if (!positions) throw new ShapeError("embedding: input 'position' (the position offset) needs a 'positions' table");
      expectDType('embedding', 'position', position, 'u32');
      expectShape('embedding', 'position', position, [1]);
    }
    return { out: { shape: [...ids.shape, d], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const ids = inputs.ids!, table = inputs.table!, out = outputs.out!;
    const positions = inputs.positions, position = inputs.position;
    const [vocab, d] = table.shape as [number, number];
    const count = shapeSize(out.shape);
    const limit = gpu.limits.maxStorageBufferBindingSize;
    const maxBytes = Math.min(attrs.maxBindingBytes ?? limit, limit);
    if (positions && 4 * shapeSize(positions.shape) > limit) {
      throw new LimitError(`embedding: positions ${formatShape(positions.shape)} exceed the ${limit}-byte storage binding limit`);
    }
    const chunkRows = embeddingChunkRows(d, maxBytes, gpu.limits.minStorageBufferOffsetAlignment);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [gx, gy] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `embedding${positions ? '_positions' : ''}${position ? '_offset' : ''}`;
    const pipeline = gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup, POSITIONS: !!positions, DYNAMIC_OFFSET: !!position }));
    const dispatches: Dispatch[] = [];
    for (let begin = 0; begin < vocab; begin += chunkRows) {
      const end = Math.min(vocab, begin + chunkRows);
      dispatches.push({
        kernel,
        pipeline,
        uniforms: new Uniforms()
          .u32(count).u32(d).u32(ids.shape[ids.shape.length - 1]!).u32(vocab)
          .u32(begin).u32(end).u32(begin === 0 ? 1 : 0).u32(positions?.shape[0] ?? 0)
          .u32(gx * workgroup).f32(attrs.scale ?? 1)
          .finish(),
        bindings: [
          slice(ids),
          { buffer: table.buffer, offset: table.offset + 4 * begin * d, size: 4 * (end - begin) * d },
          slice(out),
          ...(positions ? [slice(positions)] : []),
          ...(position ? [slice(position)] : []),
        ],
        workgroups: [gx, gy],
        // Each chunk does its share of the work, assuming ids spread evenly over the vocabulary.
        flops: ((end - begin) / vocab) * count * (positions ? 2 : 1),
        bytes: ((end - begin) / vocab) * 4 * count * (positions ? 3 : 2),
      });
    }
    return dispatches;
  },
  cost(inputs) {
    const n = shapeSize(inputs.ids!.shape) * inputs.table!.shape[1]!;
    return { flops: 2 * n, bytes: 4 * (inputs.positions ? 3 : 2) * n };
  },
};

export function embedding(
  gpu: Gpu, ids: Tensor, table: Tensor,
  options: { scale?: number; positions?: Tensor; position?: Tensor; maxBindingBytes?: number } = {},
): Tensor {
  const { positions, position, ...attrs } = options;
  return runOp(gpu, embeddingOp, { ids, table, positions, position }, attrs).out!;
}
