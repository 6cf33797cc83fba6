import { BYTES_PER_ELEMENT, formatShape, shapeSize, type DType, type HostArray } from './dtype.ts';
import type { Gpu } from './gpu.ts';

/** Where a tensor's elements live: a buffer range plus shape and dtype. Ops take and produce these. */
export interface TensorRef {
  readonly buffer: GPUBuffer;
  /** Byte offset of element 0 inside `buffer`. */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/**
 * A dense row-major tensor in a GPU buffer. Tensors from `gpu.upload`/`gpu.empty` own a pooled
 * buffer and give it back on `destroy()`; views made by `reshape` share it and own nothing, and
 * so do tensors lent out by others (`Tensor.borrow`, e.g. a session's outputs).
 */
export class Tensor implements TensorRef {
  private released = false;

  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly offset = 0,
    private readonly owner: Tensor | null = null,
    private readonly borrowed = false,
  ) {}

  /** A tensor over memory that someone else owns and frees; `destroy()` on it is an error. */
  static borrow(gpu: Gpu, ref: TensorRef): Tensor {
    return new Tensor(gpu, ref.buffer, ref.shape, ref.dtype, ref.offset, null, true);
  }

  get size(): number {
    return shapeSize(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** A view with another shape of the same number of elements. */
  reshape(shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== this.size) {
      throw new Error(`reshape: cannot view ${formatShape(this.shape)} (${this.size} elements) as ${formatShape(shape)}`);
    }
    return new Tensor(this.gpu, this.buffer, [...shape], this.dtype, this.offset, this.owner ?? this, this.borrowed);
  }

  /** Copy to the CPU. Waits for all submitted work and throws any error it raised. */
  async download(): Promise<HostArray> {
    this.assertAlive();
    return this.gpu.readTensor(this);
  }

  /** Give the buffer back to the pool. Views cannot be destroyed; destroying twice is an error. */
  destroy(): void {
    if (this.owner || this.borrowed) throw new Error('destroy: this tensor is a view of memory owned elsewhere; destroy its owner instead');
    this.assertAlive();
    this.released = true;
    this.gpu.releaseBuffer(this.buffer);
  }

  get isDestroyed(): boolean {
    return (this.owner ?? this).released;
  }

  private assertAlive(): void {
    if (this.isDestroyed) throw new Error(`tensor ${formatShape(this.shape)} ${this.dtype} was destroyed`);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype})`;
  }
}
