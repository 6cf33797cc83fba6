/**
 * Classifier-free guidance as a host logits processor (logits-processor.ts): generate()'s
 * `guidance` option, and what the image generator passes among its own processors.
 */

import type { HostLogitsProcessor, LogitMask, LogitsProcessor } from './logits-processor.ts';
import type { Sequence } from './sequence.ts';

/**
 * Classifier-free guidance: each step chooses from u + scale·(c − u), where c are the logits after
 * the prompt and u those after `unconditional` (for an image generator, the empty prompt it was
 * trained with). The second sequence runs on the model's twin, which shares the weights and has a
 * KV cache of its own, under the same masks; both are continued with the chosen tokens, and the
 * two decode steps are submitted together.
 */
export function classifierFreeGuidance(scale: number, unconditional: readonly number[]): LogitsProcessor {
  return { host: new Guidance(scale, unconditional) };
}

class Guidance implements HostLogitsProcessor {
  private twin!: Sequence;
  private position = 0;
  private masks: readonly (LogitMask | null)[] = [];

  constructor(private readonly scale: number, private readonly unconditional: readonly number[]) {}

  async start(sequence: Sequence, _prompt: readonly number[], masks: readonly (LogitMask | null)[]): Promise<number> {
    this.twin = sequence.twin();
    this.masks = masks;
    this.position = await this.twin.start(this.unconditional);
    return this.twin.maxContext - this.position;
  }

  async process(logits: Promise<Float32Array | Float64Array>, phase: number): Promise<Float64Array> {
    const [c, u] = await Promise.all([logits, this.twin.logits(this.masks[phase]!)]);
    return guide(c, u, this.scale);
  }

  next(id: number): void {
    this.twin.feed(id, ++this.position);
  }
}

/** u + scale·(c − u), in double precision. */
function guide(c: Float32Array | Float64Array, u: Float32Array, scale: number): Float64Array {
  const out = new Float64Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = u[i]! + scale * (c[i]! - u[i]!);
  return out;
}
