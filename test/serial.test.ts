import { describe, expect, test } from 'vitest';
import { SerialQueue } from '../src/runtime/serial.ts';

/** A promise and the function that settles it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('SerialQueue', () => {
  test('calls run one at a time, in call order, and a failing call does not stop the queue', async () => {
    const queue = new SerialQueue('Model');
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const calls = gates.map((gate, i) =>
      queue.run(async () => {
        log.push(`start ${i}`);
        await gate.promise;
        log.push(`end ${i}`);
        if (i === 1) throw new Error('call 1 failed');
        return i;
      }),
    );
    // Release them out of order: each still waits for the one before it.
    gates[2]!.resolve();
    gates[1]!.resolve();
    await tick();
    expect(log).toEqual(['start 0']);
    gates[0]!.resolve();
    const results = await Promise.allSettled(calls);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('call 1 failed');
  });

  test('a streaming call holds its turn until it finishes or return() is called', async () => {
    const queue = new SerialQueue('Model');
    const log: string[] = [];
    async function* stream(name: string) {
      const release = await queue.acquire();
      try {
        for (let i = 0; i < 3; i++) yield `${name}${i}`;
      } finally {
        release();
      }
    }
    const a = stream('a');
    expect((await a.next()).value).toBe('a0');
    const b = queue.run(async () => log.push('b ran'));
    await tick();
    expect(log).toEqual([]); // a is suspended at a yield, and still holds the turn
    expect((await a.next()).value).toBe('a1');
    await a.return(undefined); // a break out of for-await
    await b;
    expect(log).toEqual(['b ran']);

    // Run to its end, a stream gives the turn back too.
    const c = stream('c');
    const ids: string[] = [];
    for await (const id of c) ids.push(id);
    expect(ids).toEqual(['c0', 'c1', 'c2']);
    await queue.run(async () => log.push('after c'));
    expect(log).toEqual(['b ran', 'after c']);
  });

  test('close() rejects queued and later calls and frees once the running call ends', async () => {
    const queue = new SerialQueue('Model');
    const gate = deferred();
    const log: string[] = [];
    const running = queue.run(async () => {
      await gate.promise;
      log.push('running call ended');
      return 'done';
    });
    const queued = queue.run(async () => log.push('queued call ran'));
    const closed = queue.close(() => {
      log.push('freed');
    });
    await expect(queued).rejects.toThrow(/^Model: used after destroy\(\)$/);
    await expect(queue.run(async () => 1)).rejects.toThrow('Model: used after destroy()');
    await expect(queue.acquire()).rejects.toThrow('Model: used after destroy()');
    expect(log).toEqual([]); // the running call keeps its memory until it ends
    gate.resolve();
    expect(await running).toBe('done');
    await closed;
    expect(log).toEqual(['running call ended', 'freed']);
    await queue.close(() => {
      log.push('freed twice');
    }); // a second close does nothing
    expect(log).toEqual(['running call ended', 'freed']);
  });

  test('close() on an idle queue frees at once (synchronously)', () => {
    const queue = new SerialQueue('Model');
    let freed = false;
    void queue.close(() => {
      freed = true;
    });
    expect(freed).toBe(true);
  });
});
