import type { Gpu } from '../device/gpu.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import source from '../../shaders/fused_matvec.wgsl';
import { expectDType, expectRank, expectShape, required, runOp, slice, type OpDef } from './op.ts';
import { specialize, Uniforms } from './shader.ts';

export interface FusedMatvecAttrs {
  /** What turns `a` into the product's input: RMSNorm (with `gain`), the SwiGLU gate of a = gate | up, or nothing. */
  prologue: 'rmsnorm' | 'swiglu' | 'none';
  /** RMSNorm epsilon. */
  eps?: number;
}

/**
 * One token's `prologue(a) · bᵀ (+ residual)`, b stored [N, K]: a [..., 1, K] with 'rmsnorm'
 * (and `gain` [K]) or 'none', or a [..., 1, 2K] = gate | up with 'swiglu' → out [..., 1, N].
 * Decoding uses it to fold a small Llama block's norms and gate into its projections, and for
 * its other small projections: it has no barrier (see the shader), which lavapipe rewards.
 */
export const fusedMatvecOp: OpDef<FusedMatvecAttrs> = {
  name: 'fusedMatvec',
  infer(inputs, attrs) {
    const op = `fusedMatvec(${attrs.prologue})`;
    const a = required(op, inputs, 'a');
    const b = required(op, inputs, 'b');
    expectDType(op, 'a', a, 'f32');
    expectDType(op, 'b', b, 'f32');
    expectRank(op, 'b', b, 2);
    const [N, K] = b.shape as [number, number];
    const width = attrs.prologue === 'swiglu' ? 2 * K : K;
    if (shapeSize(a.shape) !== width || a.shape[a.shape.length - 1] !== width) {
      throw new ShapeError(`${op}: a ${formatShape(a.shape)} must be one row of ${width} (b ${formatShape(b.shape)} is [N, K]${attrs.prologue === 'swiglu' ? ', a = gate | up' : ''})`);
    }
    if (attrs.prologue === 'rmsnorm') {
      const gain = required(op, inputs, 'gain');
      expectDType(op, 'gain', gain, 'f32');
      expectShape(op, 'gain', gain, [K]);
    }
    const shape = [...a.shape.slice(0, -1), N];
    if (inputs.residual) {
      expectDType(op, 'residual', inputs.residual, 'f32');
      expectShape(op, 'residual', inputs.residual, shape);
    }
    return { out: { shape, dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const a = inputs.a!, b = inputs.b!, residual = inputs.residual;
    const [N, K] = b.shape as [number, number];
    const weight = slice(b);
    if (weight.size > gpu.limits.maxStorageBufferBindingSize) {
      throw new LimitError(`fusedMatvec: b ${formatShape(b.shape)} (${weight.size} bytes) exceeds maxStorageBufferBindingSize (${gpu.limits.maxStorageBufferBindingSize} bytes)`);
    }
    const rmsnorm = attrs.prologue === 'rmsnorm';
    const kernel = `fused_matvec_${attrs.prologue}${residual ? '_residual' : ''}`;
    const workgroup = gpu.tuning.fusedMatvec.workgroup; // invocations, 4 output columns each
    const code = specialize(kernel, source, { WORKGROUP: workgroup, RMSNORM: rmsnorm, SWIGLU: attrs.prologue === 'swiglu', RESIDUAL: !!residual, RESIDUAL_BINDING: rmsnorm ? 5 : 4 });
    const bindings = [slice(a), weight, slice(outputs.out!), ...(rmsnorm ? [slice(inputs.gain!)] : []), ...(residual ? [slice(residual)] : [])];
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, code),
      uniforms: new Uniforms().u32(N).u32(K).f32(attrs.eps ?? 1e-6).finish(),
      bindings,
      workgroups: [Math.ceil(N / (4 * workgroup))],
      flops: 2 * N * K,
      bytes: 4 * (N * K + K + N),
    }];
  },
  cost(inputs) {
    const [N, K] = inputs.b!.shape as [number, number];
    return { flops: 2 * N * K, bytes: 4 * (N * K + K + N) };
  },
};

export function fusedMatvec(gpu: Gpu, a: Tensor, b: Tensor, attrs: FusedMatvecAttrs, extra: { gain?: Tensor; residual?: Tensor } = {}): Tensor {
  return runOp(gpu, fusedMatvecOp, { a, b, gain: extra.gain, residual: extra.residual }, attrs).out!;
}
