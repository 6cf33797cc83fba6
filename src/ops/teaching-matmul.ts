import type { Gpu } from '../device/gpu.ts';
import { formatShape } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import naiveSource from '../../shaders/teaching/matmul_1_naive.wgsl';
import tiledSource from '../../shaders/teaching/matmul_2_tiled.wgsl';
import registerBlockedSource from '../../shaders/teaching/matmul_3_register_blocked.wgsl';
import vec4Source from '../../shaders/teaching/matmul_4_vec4.wgsl';
import { expectDType, expectRank, required, runOp, slice, type OpDef, type Named, type TensorSpec } from './op.ts';
import { Uniforms } from './shader.ts';

/**
 * The matmul's teaching versions: four real kernels, each one step from the naive loop towards
 * the production kernel (shaders/matmul.wgsl, `ops.matmul`), which is step 5. They compute
 * c = a · b for a plain [M, K] × [K, N] and nothing else (no batches, transposes or epilogues),
 * so that each file shows one idea. docs/matmul.md walks through them with measured figures.
 */
export type TeachingMatmulVersion = 'naive' | 'tiled' | 'register_blocked' | 'vec4';

export interface TeachingMatmulStep {
  version: TeachingMatmulVersion;
  /** Short title, for tables and the kernel lab. */
  title: string;
  /** The WGSL file, relative to the repository root. */
  file: string;
  /** Its source text. */
  source: string;
  /** Outputs one workgroup computes: [rows, columns]. */
  block: readonly [number, number];
  /** Invocations per workgroup. */
  invocations: number;
  /** K and N must be multiples of this (1: any shape). */
  alignment: number;
}

export const TEACHING_MATMUL_STEPS: readonly TeachingMatmulStep[] = [
  { version: 'naive', title: '1. naive: one invocation per output', file: 'shaders/teaching/matmul_1_naive.wgsl', source: naiveSource, block: [8, 8], invocations: 64, alignment: 1 },
  { version: 'tiled', title: '2. workgroup tiles (16×16 in shared memory)', file: 'shaders/teaching/matmul_2_tiled.wgsl', source: tiledSource, block: [16, 16], invocations: 256, alignment: 1 },
  { version: 'register_blocked', title: '3. register blocking (4×4 outputs per invocation)', file: 'shaders/teaching/matmul_3_register_blocked.wgsl', source: registerBlockedSource, block: [64, 64], invocations: 256, alignment: 1 },
  { version: 'vec4', title: '4. vec4 loads and vec4 FMAs', file: 'shaders/teaching/matmul_4_vec4.wgsl', source: vec4Source, block: [64, 64], invocations: 256, alignment: 4 },
];

export interface TeachingMatmulAttrs {
  version: TeachingMatmulVersion;
}

function stepOf(attrs: TeachingMatmulAttrs): TeachingMatmulStep {
  const step = TEACHING_MATMUL_STEPS.find((s) => s.version === attrs.version);
  if (!step) throw new ShapeError(`teaching_matmul: unknown version '${attrs.version}' (one of ${TEACHING_MATMUL_STEPS.map((s) => s.version).join(', ')})`);
  return step;
}

function dims(inputs: Named<TensorSpec>, attrs: TeachingMatmulAttrs): { M: number; N: number; K: number; step: TeachingMatmulStep } {
  const step = stepOf(attrs);
  const a = required('teaching_matmul', inputs, 'a');
  const b = required('teaching_matmul', inputs, 'b');
  expectDType('teaching_matmul', 'a', a, 'f32');
  expectDType('teaching_matmul', 'b', b, 'f32');
  expectRank('teaching_matmul', 'a', a, 2);
  expectRank('teaching_matmul', 'b', b, 2);
  const [M, K] = a.shape as [number, number];
  const [bK, N] = b.shape as [number, number];
  if (bK !== K) throw new ShapeError(`teaching_matmul: a ${formatShape(a.shape)} has K = ${K} but b ${formatShape(b.shape)} has K = ${bK}`);
  if (K % step.alignment !== 0 || N % step.alignment !== 0) {
    throw new ShapeError(
      `teaching_matmul (${step.version}): K = ${K} and N = ${N} must be multiples of ${step.alignment} (a ${formatShape(a.shape)}, b ${formatShape(b.shape)}); ` +
        'the production ops.matmul takes any shape',
    );
  }
  return { M, N, K, step };
}

/** c = a · b with one of the teaching kernels: a [M, K], b [K, N] → c [M, N]. */
export const teachingMatmulOp: OpDef<TeachingMatmulAttrs> = {
  name: 'teaching_matmul',
  infer(inputs, attrs) {
    const { M, N } = dims(inputs, attrs);
    return { out: { shape: [M, N], dtype: 'f32' } };
  },
  plan(gpu, inputs, outputs, attrs) {
    const { M, N, K, step } = dims(inputs, attrs);
    const kernel = `teaching_matmul_${step.version}`;
    const [blockRows, blockColumns] = step.block;
    return [{
      kernel,
      pipeline: gpu.pipeline(kernel, step.source),
      uniforms: new Uniforms().u32(M).u32(N).u32(K).finish(),
      bindings: [slice(inputs.a!), slice(inputs.b!), slice(outputs.out!)],
      workgroups: [Math.ceil(N / blockColumns), Math.ceil(M / blockRows)],
      flops: 2 * M * N * K,
      bytes: 4 * (M * K + K * N + M * N),
    }];
  },
  cost(inputs, attrs) {
    const { M, N, K } = dims(inputs, attrs);
    return { flops: 2 * M * N * K, bytes: 4 * (M * K + K * N + M * N) };
  },
};

/** Eager c = a · b with the teaching kernel `version`; see `teachingMatmulOp`. */
export function teachingMatmul(gpu: Gpu, a: Tensor, b: Tensor, version: TeachingMatmulVersion): Tensor {
  return runOp(gpu, teachingMatmulOp, { a, b }, { version }).out!;
}
