import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/topk.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';
import { rowTiling, tilingDefines, tilingName } from './row-tiling.ts';

export interface TopKAttrs {
  k: number;
}

/** Each lane keeps k values in registers, so a row spreads over at most this many lanes. */
const MAX_LANES = 128;
/** Each thread keeps k values in registers; beyond this a sort-based kernel would be the right tool. */
export const MAX_K = 128;

/** The k largest values of each row of x [rows, V], descending, and their indices (smaller index first on ties). */
export const topKOp: OpDef<TopKAttrs> = {
  name: 'topk',
  infer(inputs, { k }) {
    const x = required('topk', inputs, 'x');
    expectDType('topk', 'x', x, 'f32');
    expectRank('topk', 'x', x, 2);
    const [rows, v] = x.shape as [number, number];
    if (!Number.isInteger(k) || k < 1 || k > v) throw new ShapeError(`topk: k = ${k} must be an integer in [1, V] for x ${formatShape(x.shape)}`);
    if (k > MAX_K) throw new LimitError(`topk: k = ${k} exceeds this kernel's limit of ${MAX_K}`);
    return { values: { shape: [rows, k], dtype: 'f32' }, indices: { shape: [rows, k], dtype: 'i32' } };
  },
  plan(gpu, inputs, outputs, { k }) {
    const x = inputs.x!;
    const [rows, v] = x.shape as [number, number];
    const tiling = rowTiling(gpu, v, gpu.tuning.rowReductions.streamMaxPerLane, gpu.tuning.rowReductions.streamPerLane, MAX_LANES);
    const [gx, gy] = grid1d(Math.ceil(rows / tiling.rows), gpu.limits.maxComputeWorkgroupsPerDimension);
    const kernel = `topk_${k}_${tilingName(tiling)}`;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, specialize(kernel, source, { ...tilingDefines(tiling), K: k })),
      uniforms: new Uniforms().u32(rows).u32(v).u32(gx).finish(),
      bindings: [slice(x), slice(outputs.values!), slice(outputs.indices!)],
      workgroups: [gx, gy],
      flops: rows * v,
      bytes: 4 * (rows * v + 2 * rows * k),
    }];
  },
  cost(inputs, { k }) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: n, bytes: 4 * (n + 2 * inputs.x!.shape[0]! * k) };
  },
};

export function topK(gpu: Gpu, x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  const { values, indices } = runOp(gpu, topKOp, { x }, { k });
  return { values: values!, indices: indices! };
}
