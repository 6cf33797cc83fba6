/**
 * A buffer pool: tensors released by one op are reused by the next instead of being
 * destroyed and re-created (both are slow in every WebGPU implementation).
 *
 * Sizes are rounded up to size classes (eight per power of two) so that a released
 * buffer fits many later requests while wasting at most 12.5 % of its bytes.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(256, pow / 8);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private freeBytes = 0;

  constructor(private readonly allocate: (bytes: number) => GPUBuffer, private readonly destroy: (buffer: GPUBuffer) => void) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= size;
      return reused;
    }
    return this.allocate(size);
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
    this.freeBytes += buffer.size;
  }

  /** Bytes held by released buffers that are waiting for reuse. */
  get idleBytes(): number {
    return this.freeBytes;
  }

  /** Destroy every idle buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const buffer of list) this.destroy(buffer);
    this.free.clear();
    this.freeBytes = 0;
  }
}
