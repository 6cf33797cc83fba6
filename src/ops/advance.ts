import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/advance.wgsl';
import { expectDType, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize } from './shader.ts';

/**
 * Advance greedy decoding on the GPU: the chosen token — `next` i32 [1], or the argmax of
 * `logits` [1, V] (one invocation scans them: for small vocabularies) — becomes the next input
 * (`ids` i32 [1]) and is recorded at `history[position + 1]`; `position` and `kvLength` (u32 [1])
 * move on by one. All four are updated in place, so decode steps chain without the host.
 */
export const advanceOp: OpDef<Record<string, never>> = {
  name: 'advance',
  writes: ['ids', 'position', 'kvLength', 'history'],
  infer(inputs) {
    const { next, logits } = inputs;
    if (!next === !logits) throw new ShapeError("advance: give exactly one of 'next' (the chosen id) and 'logits' (to take their argmax)");
    if (next) {
      expectDType('advance', 'next', next, 'i32');
      expectShape('advance', 'next', next, [1]);
    } else {
      expectDType('advance', 'logits', logits!, 'f32');
      if (logits!.shape.length < 1 || shapeSize(logits!.shape) !== logits!.shape[logits!.shape.length - 1]) {
        throw new ShapeError(`advance: logits ${formatShape(logits!.shape)} must be one row`);
      }
    }
    const ids = required('advance', inputs, 'ids');
    expectDType('advance', 'ids', ids, 'i32');
    if (shapeSize(ids.shape) !== 1) throw new ShapeError(`advance: ids ${formatShape(ids.shape)} must hold one id`);
    for (const name of ['position', 'kvLength'] as const) {
      const t = required('advance', inputs, name);
      expectDType('advance', name, t, 'u32');
      expectShape('advance', name, t, [1]);
    }
    expectDType('advance', 'history', required('advance', inputs, 'history'), 'i32');
    return {};
  },
  plan(gpu, inputs) {
    const argmax = !!inputs.logits;
    const kernel = argmax ? 'advance_argmax' : 'advance';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { ARGMAX: argmax })),
      bindings: [(inputs.logits ?? inputs.next)!, inputs.ids!, inputs.position!, inputs.kvLength!, inputs.history!].map(slice),
      workgroups: [1],
      bytes: argmax ? 4 * shapeSize(inputs.logits!.shape) : 20,
    }];
  },
  cost(inputs) {
    return { flops: inputs.logits ? shapeSize(inputs.logits.shape) : 0, bytes: inputs.logits ? 4 * shapeSize(inputs.logits.shape) : 20 };
  },
};

export function advance(gpu: Gpu, states: { next?: Tensor; logits?: Tensor; ids: Tensor; position: Tensor; kvLength: Tensor; history: Tensor }): void {
  runOp(gpu, advanceOp, states, {});
}
