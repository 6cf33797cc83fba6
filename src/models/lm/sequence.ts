/**
 * What generation strategies and logits processors drive: one token sequence of a
 * LanguageModel, its KV cache on the GPU and the decode sessions over it.
 */

import type { Gpu } from '../../device/gpu.ts';
import type { Tensor } from '../../device/tensor.ts';
import type { Session } from '../../runtime/session.ts';
import type { LmConfig } from '../decoder.ts';
import type { LogitMask } from './logits-processor.ts';

export interface Sequence {
  readonly gpu: Gpu;
  readonly config: LmConfig;
  /** The KV-cache length in tokens. */
  readonly maxContext: number;
  /** i32 [maxContext + 1]: history[p] is the id greedy decoding chose for position p. */
  readonly history: Tensor;
  /** Whether a run under `label` would be profiled (the model was loaded with `profile` and has no profile of it yet). */
  profiling(label: string): boolean;
  /** Throws a LimitError when n tokens do not fit the cache. */
  checkLength(n: number, what: string): void;
  /** Throws a ShapeError at the first id outside the vocabulary. */
  checkIds(ids: readonly number[]): void;
  /** A new sequence: `ids` but the last fill the cache, and the last is the next step's input. Returns its position. */
  start(ids: readonly number[]): Promise<number>;
  /** The next decode step reads token `id` at `position` (and attends to the rows up to it). */
  feed(id: number, position: number): void;
  /** One decode step's logits [V], `mask` added on the GPU. */
  logits(mask: LogitMask | null): Promise<Float32Array>;
  /** One decode step's k largest (masked) logits, descending, and their ids. */
  topK(k: number, mask: LogitMask | null): Promise<{ values: Float32Array; indices: Int32Array }>;
  /**
   * The session that decodes greedily under `mask` and advances on the GPU; `fused`: one run
   * takes a chunk of steps (its input 'steps'), else the graph is repeated once per step.
   */
  greedySession(mask: LogitMask | null): Promise<{ session: Session; fused: boolean }>;
  /** Run a session once (profiled under `label` when `profiling(label)`). */
  run(session: Session, label: string, inputs: Record<string, Uint32Array>, download: string[]): Promise<unknown>;
  /** A second sequence over the same weights with a cache of its own, made on first use (the unconditional side of guidance). */
  twin(): Sequence;
}
