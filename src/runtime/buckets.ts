import type { Gpu } from '../device/gpu.ts';
import { compile, type CompileOptions } from '../graph/compile.ts';
import type { Graph } from '../graph/graph.ts';
import { Session, type SessionOptions } from './session.ts';

/**
 * One graph compiled for several sequence lengths. Static graphs have fixed shapes, so a model
 * that takes inputs of varying length builds its graph once per bucket (e.g. 16, 32, 64, …);
 * each call runs the smallest bucket that holds its length, with the input padded to it.
 * Sessions are compiled on first use, or all at once with `prepare()`.
 */
export class BucketedSession {
  private readonly sessions = new Map<number, Promise<Session>>();
  readonly sizes: readonly number[];

  constructor(
    private readonly gpu: Gpu,
    sizes: readonly number[],
    private readonly build: (length: number) => Graph,
    private readonly options: CompileOptions & SessionOptions = {},
  ) {
    if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`BucketedSession: bucket sizes must be positive integers, got [${sizes.join(', ')}]`);
    this.sizes = [...new Set(sizes)].sort((a, b) => a - b);
  }

  /** The smallest bucket that holds `length`. */
  bucketFor(length: number): number {
    const size = this.sizes.find((s) => s >= length);
    if (size === undefined) throw new Error(`BucketedSession: length ${length} exceeds the largest bucket, ${this.sizes[this.sizes.length - 1]}`);
    return size;
  }

  /** The session for `length`'s bucket, compiled on first use. */
  session(length: number): Promise<Session> {
    const size = this.bucketFor(length);
    let session = this.sessions.get(size);
    if (!session) {
      session = Session.create(this.gpu, compile(this.build(size), this.options), this.options);
      this.sessions.set(size, session);
      session.catch(() => this.sessions.delete(size)); // a failed compile may be retried
    }
    return session;
  }

  /** Compile every bucket now. */
  async prepare(): Promise<void> {
    await Promise.all(this.sizes.map((s) => this.session(s)));
  }

  async destroy(): Promise<void> {
    const sessions = await Promise.allSettled(this.sessions.values());
    for (const s of sessions) if (s.status === 'fulfilled') s.value.destroy();
    this.sessions.clear();
  }
}
