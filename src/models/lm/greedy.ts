/**
 * Greedy decoding on the GPU: the decode graph ends in argmax and the `advance` kernel (or the
 * one-kernel Llama step takes the argmax itself), which feeds the chosen id back as the next input
 * and moves the position on, so K steps are recorded into one compute pass and the new ids are
 * read back from the history once per K.
 */

import type { Session } from '../../runtime/session.ts';
import type { LogitMask } from './logits-processor.ts';
import type { Sequence } from './sequence.ts';

/** Greedy decode steps per submit: the first chunk is short so the first tokens arrive soon. */
const FIRST_DECODE_CHUNK = 8;
const MAX_DECODE_CHUNK = 64;

/**
 * Greedy decoding on the GPU from the token at `position`: each phase's steps under its own mask
 * (EOS banned until min_new_tokens, then not). Chunks of K steps are recorded into one compute
 * pass each, and the next chunk is queued before the host waits for this one's ids, so the GPU
 * never idles while the host reads back and encodes. When the consumer stops early, the chunk
 * still in flight finishes and is discarded.
 */
export async function* greedyIds(seq: Sequence, position: number, phases: readonly { steps: number; mask: LogitMask | null }[]): AsyncGenerator<number> {
  // The fused step takes a chunk's steps in one dispatch; a decode graph is recorded once per
  // step into one pass. Both advance the same ids, position and history tensors, so a chunk of
  // one phase continues where the other left off.
  const runs: { steps: number; session: Session; fused: boolean }[] = [];
  for (const { steps, mask } of phases) {
    if (steps > 0) runs.push({ steps, ...(await seq.greedySession(mask)) });
  }
  const total = runs.reduce((n, r) => n + r.steps, 0);
  const inputs = (fused: boolean, steps: number): Record<string, Uint32Array> => (fused ? { steps: new Uint32Array([steps]) } : {});
  const inFlight: { done: Promise<unknown>; ids: Promise<ArrayBuffer> }[] = [];
  let submitted = 0;
  let phase = 0;
  let phaseDone = 0;
  let chunk = FIRST_DECODE_CHUNK;
  const submit = () => {
    while (phaseDone === runs[phase]!.steps) [phase, phaseDone] = [phase + 1, 0];
    const { session, fused, steps: phaseSteps } = runs[phase]!;
    const steps = Math.min(chunk, phaseSteps - phaseDone);
    const first = position + submitted + 1; // history row of the chunk's first new id
    const done = session.run(inputs(fused, steps), { repeat: fused ? 1 : steps, download: [] });
    const ids = seq.gpu.readBytes(seq.history.buffer, seq.history.offset + 4 * first, 4 * steps);
    for (const p of [done, ids]) p.catch(() => {}); // rethrown where awaited; never unhandled
    inFlight.push({ done, ids });
    submitted += steps;
    phaseDone += steps;
    chunk = Math.min(2 * chunk, MAX_DECODE_CHUNK);
  };
  try {
    if (total > 0 && seq.profiling('decode (1 token)')) {
      await seq.run(runs[0]!.session, 'decode (1 token)', inputs(runs[0]!.fused, 1), []);
      submitted = phaseDone = 1;
      yield new Int32Array(await seq.gpu.readBytes(seq.history.buffer, seq.history.offset + 4 * (position + 1), 4))[0]!;
    }
    if (submitted < total) submit();
    while (inFlight.length > 0) {
      if (submitted < total) submit();
      const { done, ids } = inFlight.shift()!;
      await done;
      yield* new Int32Array(await ids);
    }
  } finally {
    await Promise.allSettled(inFlight.flatMap((c) => [c.done, c.ids]));
  }
}
