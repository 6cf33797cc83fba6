/**
 * One call at a time, in call order: the concurrency policy of every model.
 *
 * A model's graphs share state (the KV cache, the sessions' input and staging buffers), so two
 * of its calls must never interleave. Each public call takes a turn on the model's SerialQueue:
 * calls wait in a FIFO queue (never a "busy" error) and run one after another. A streaming call
 * (an async generator) takes its turn at its first `next()` and holds it until it finishes or its
 * `return()` is called (a `break` out of `for await`). `close()` is destroy(): calls still queued,
 * and every later one, are rejected with "<Model>: used after destroy()", and the GPU memory is
 * freed once the running call has ended.
 */

/** Ends a turn; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  resolve: (release: Release) => void;
  reject: (err: Error) => void;
}

export class SerialQueue {
  private running = false;
  private closed = false;
  private readonly waiting: Waiter[] = [];
  /** What close() frees once the running call ends, and the promise close() returned. */
  private onIdle: (() => void) | null = null;

  /** `owner` names the model in the error of a call after destroy(). */
  constructor(private readonly owner: string) {}

  /** The error of a call made or still queued after close(). */
  usedAfterDestroy(): Error {
    return new Error(`${this.owner}: used after destroy()`);
  }

  /** Wait for this call's turn; the turn lasts until the returned function is called. */
  acquire(): Promise<Release> {
    if (this.closed) return Promise.reject(this.usedAfterDestroy());
    if (!this.running) {
      this.running = true;
      return Promise.resolve(this.release());
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Run `fn` in its turn. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Reject the queued and later calls, and run `free` once no call is running: at once when the
   * queue is idle, else when the running call ends. Resolves when `free` has finished. Closing
   * again returns at once.
   */
  close(free: () => void | Promise<void>): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.usedAfterDestroy());
    if (!this.running) return Promise.resolve(free());
    return new Promise((resolve, reject) => {
      this.onIdle = () => {
        try {
          Promise.resolve(free()).then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      };
    });
  }

  private release(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) return next.resolve(this.release());
      this.running = false;
      const onIdle = this.onIdle;
      this.onIdle = null;
      onIdle?.();
    };
  }
}
