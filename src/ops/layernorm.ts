import type { Dispatch, Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor, TensorRef } from '../device/tensor.ts';
import layerNormSource from '../../shaders/layernorm.wgsl';
import rmsNormSource from '../../shaders/rmsnorm.wgsl';
import { expectDType, expectShape, required, runOp, slice, type Named, type OpDef, type TensorSpec } from './op.ts';
import { grid1d, specialize, Uniforms } from './shader.ts';
import { rowTiling, tilingDefines, tilingName } from './row-tiling.ts';

export interface NormAttrs {
  eps: number;
}

const MAX_LANES = 256;
/** Registers per lane that hold the row; caps D at 32·256 (scalar rows) or 4·32·256 (vec4 rows). */
const MAX_PER_LANE = 32;

/** Checks shared by both norms; returns the outputs (`sum` only when a residual is added). */
function inferNorm(op: string, inputs: Named<TensorSpec>, withBias: boolean): Record<string, TensorSpec> {
  const x = required(op, inputs, 'x');
  expectDType(op, 'x', x, 'f32');
  if (x.shape.length < 1) throw new ShapeError(`${op}: input 'x' must have at least one dimension, got ${formatShape(x.shape)}`);
  const d = x.shape[x.shape.length - 1]!;
  const weight = required(op, inputs, 'weight');
  expectDType(op, 'weight', weight, 'f32');
  expectShape(op, 'weight', weight, [d]);
  if (withBias) {
    const bias = required(op, inputs, 'bias');
    expectDType(op, 'bias', bias, 'f32');
    expectShape(op, 'bias', bias, [d]);
  }
  const residual = inputs.residual;
  if (residual) {
    expectDType(op, 'residual', residual, 'f32');
    expectShape(op, 'residual', residual, x.shape);
  }
  const vec4 = d % 4 === 0;
  const limit = MAX_LANES * MAX_PER_LANE * (vec4 ? 4 : 1);
  if (d > limit) throw new LimitError(`${op}: rows of ${d} elements exceed this kernel's limit of ${limit} elements per row`);
  const out = { shape: x.shape, dtype: 'f32' as const };
  return residual ? { out, sum: out } : { out };
}

/** A subgroup or a workgroup per row; the row lives in registers (see the shader headers). */
function planNorm(gpu: Gpu, name: 'layernorm' | 'rmsnorm', source: string, inputs: Named<TensorRef>, outputs: Named<TensorRef>, eps: number): Dispatch[] {
  const x = inputs.x!, residual = inputs.residual;
  const d = x.shape[x.shape.length - 1]!;
  const rows = shapeSize(x.shape) / d;
  const vec4 = d % 4 === 0;
  const width = vec4 ? d / 4 : d;
  const tiling = rowTiling(gpu, width, MAX_PER_LANE, Math.min(gpu.tuning.rowReductions.heldPerLane, MAX_PER_LANE));
  const perLane = Math.ceil(width / tiling.lanes);
  const [gx, gy] = grid1d(Math.ceil(rows / tiling.rows), gpu.limits.maxComputeWorkgroupsPerDimension);
  const kernel = `${name}_${vec4 ? 'vec4' : 'f32'}_${tilingName(tiling)}x${perLane}${residual ? '_residual' : ''}`;
  const code = specialize(kernel, source, {
    V: vec4 ? 'vec4<f32>' : 'f32', VEC4: vec4, PER_LANE: perLane, RESIDUAL: !!residual, ...tilingDefines(tiling),
  });
  const params = name === 'layernorm' ? [inputs.weight!, inputs.bias!] : [inputs.weight!];
  const bindings = [x, ...params, outputs.out!, ...(residual ? [residual, outputs.sum!] : [])].map(slice);
  const n = rows * d;
  return [{
    kernel,
    pipeline: gpu.pipeline(kernel, code),
    uniforms: new Uniforms().u32(rows).u32(width).u32(d).u32(gx).f32(eps).finish(),
    bindings,
    workgroups: [gx, gy],
    flops: (name === 'layernorm' ? 8 : 5) * n,
    bytes: 4 * (n * (residual ? 4 : 2) + d * params.length),
  }];
}

/** `out = LayerNorm(x [+ residual]) · weight + bias` over the last dim; with a residual, `sum = x + residual`. */
export const layerNormOp: OpDef<NormAttrs> = {
  name: 'layernorm',
  infer: (inputs) => inferNorm('layernorm', inputs, true),
  plan: (gpu, inputs, outputs, attrs) => planNorm(gpu, 'layernorm', layerNormSource, inputs, outputs, attrs.eps),
  cost(inputs) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: 8 * n, bytes: 4 * n * (inputs.residual ? 4 : 2) };
  },
};

/** `out = RMSNorm(x [+ residual]) · weight` over the last dim; with a residual, `sum = x + residual`. */
export const rmsNormOp: OpDef<NormAttrs> = {
  name: 'rmsnorm',
  infer: (inputs) => inferNorm('rmsnorm', inputs, false),
  plan: (gpu, inputs, outputs, attrs) => planNorm(gpu, 'rmsnorm', rmsNormSource, inputs, outputs, attrs.eps),
  cost(inputs) {
    const n = shapeSize(inputs.x!.shape);
    return { flops: 5 * n, bytes: 4 * n * (inputs.residual ? 4 : 2) };
  },
};

/** LayerNorm of x; with `residual`, of x + residual, and that sum is returned too. */
export function layerNorm(gpu: Gpu, x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5, residual?: Tensor): { out: Tensor; sum?: Tensor } {
  const { out, sum } = runOp(gpu, layerNormOp, { x, weight, bias, residual }, { eps });
  return { out: out!, sum };
}

/** RMSNorm of x; with `residual`, of x + residual, and that sum is returned too. */
export function rmsNorm(gpu: Gpu, x: Tensor, weight: Tensor, eps = 1e-6, residual?: Tensor): { out: Tensor; sum?: Tensor } {
  const { out, sum } = runOp(gpu, rmsNormOp, { x, weight, residual }, { eps });
  return { out: out!, sum };
}
