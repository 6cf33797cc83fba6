import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/class_token.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';

/**
 * ViT's token sequence: `out = concat(cls, patches) + positions`, per image. `patches` [B, N, D]
 * (the patch embeddings), `cls` with D elements (any shape, e.g. HF's [1, 1, D]), `positions`
 * with (N + 1)·D elements ([1, N + 1, D] or [N + 1, D]); out [B, N + 1, D].
 */
export const classTokenOp: OpDef<Record<string, never>> = {
  name: 'class_token',
  infer(inputs) {
    const patches = required('class_token', inputs, 'patches');
    const cls = required('class_token', inputs, 'cls');
    const positions = required('class_token', inputs, 'positions');
    for (const [name, t] of [['patches', patches], ['cls', cls], ['positions', positions]] as const) expectDType('class_token', name, t, 'f32');
    expectRank('class_token', 'patches', patches, 3);
    const [b, n, d] = patches.shape as [number, number, number];
    if (shapeSize(cls.shape) !== d) throw new ShapeError(`class_token: cls ${formatShape(cls.shape)} must hold D = ${d} values (patches ${formatShape(patches.shape)})`);
    if (shapeSize(positions.shape) !== (n + 1) * d || positions.shape[positions.shape.length - 1] !== d) {
      throw new ShapeError(`class_token: positions ${formatShape(positions.shape)} must be [${n + 1}, ${d}] (N + 1 tokens of D) for patches ${formatShape(patches.shape)}`);
    }
    return { out: { shape: [b, n + 1, d], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs) {
    const out = outputs.out!;
    const [, tokens, dim] = out.shape as [number, number, number];
    const count = shapeSize(out.shape);
    const workgroup = gpu.tuning.elementwise.workgroup;
    const [x, y] = grid1d(Math.ceil(count / workgroup), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = 'class_token';
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { WORKGROUP: workgroup })),
      uniforms: new Uniforms().u32(count).u32(tokens).u32(dim).u32(x * workgroup).finish(),
      bindings: [slice(inputs.patches!), slice(inputs.cls!), slice(inputs.positions!), slice(out)],
      workgroups: [x, y],
      flops: count,
      bytes: 4 * 3 * count,
    }];
  },
  cost(inputs) {
    const [b, n, d] = inputs.patches!.shape as [number, number, number];
    const count = b * (n + 1) * d;
    return { flops: count, bytes: 12 * count };
  },
};

/** Eager form of `classTokenOp`: [B, N, D] patch embeddings → [B, N + 1, D] tokens. */
export function classToken(gpu: Gpu, patches: Tensor, cls: Tensor, positions: Tensor): Tensor {
  return runOp(gpu, classTokenOp, { patches, cls, positions }, {}).out!;
}
