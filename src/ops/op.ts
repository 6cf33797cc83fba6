import type { Dispatch, Gpu } from '../device/gpu.ts';
import type { DType } from '../device/dtype.ts';
import { BYTES_PER_ELEMENT, formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor, TensorRef } from '../device/tensor.ts';

/** Shape and dtype of a tensor that may not exist yet (graph building, output allocation). */
export interface TensorSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Inputs and outputs are named (`a`, `b`, `bias`, …); optional ones are simply absent. */
export type Named<T> = { readonly [name: string]: T | undefined };

/**
 * An operation as both the eager API and the graph runtime see it:
 *  - `infer` checks inputs and gives output shapes (throwing a ShapeError that names the op and shapes),
 *  - `scratch` lists temporary tensors the kernels need (optional),
 *  - `plan` turns concrete buffers into kernel dispatches. It does no GPU work itself, so the
 *    runtime can plan once and replay, and the eager path can run the plan at once.
 */
export interface OpDef<A> {
  readonly name: string;
  infer(inputs: Named<TensorSpec>, attrs: A): Record<string, TensorSpec>;
  scratch?(inputs: Named<TensorSpec>, attrs: A): Record<string, TensorSpec>;
  plan(gpu: Gpu, inputs: Named<TensorRef>, outputs: Named<TensorRef>, attrs: A, scratch: Named<TensorRef>): Dispatch[];
  /** Inputs the op updates in place (a KV cache): a graph keeps such nodes even without outputs. */
  readonly writes?: readonly string[];
  /** Floating-point operations and bytes moved, for profiles and benchmarks. */
  cost?(inputs: Named<TensorSpec>, attrs: A): { flops: number; bytes: number };
  /**
   * For an op that some shapes run as several other ops in a row (its `plan` then runs them on
   * its scratch): those ops, which `compile` splices into the graph so that the memory planner
   * shares their temporaries. Null when one kernel does it.
   */
  expand?(inputs: Named<TensorSpec>, attrs: A): OpProgram | null;
}

/**
 * Ops in a row that compute one op. Tensors are named: the op's inputs and outputs, `temps`, and
 * `views` (another shape of a named tensor's memory; a view of an output is written through).
 */
export interface OpProgram {
  temps: Record<string, TensorSpec>;
  views: Record<string, readonly [of: string, shape: readonly number[]]>;
  steps: readonly { name: string; op: OpDef<any>; attrs: unknown; inputs: Record<string, string>; outputs: Record<string, string> }[];
}

/** Run an op eagerly: allocate outputs and scratch from the pool, dispatch, free the scratch. */
export function runOp<A>(gpu: Gpu, op: OpDef<A>, inputs: Named<Tensor>, attrs: A): Record<string, Tensor> {
  const specs = op.infer(inputs, attrs);
  const outputs: Record<string, Tensor> = {};
  const scratch: Record<string, Tensor> = {};
  try {
    for (const [name, spec] of Object.entries(specs)) outputs[name] = gpu.empty(spec.shape, spec.dtype);
    for (const [name, spec] of Object.entries(op.scratch?.(inputs, attrs) ?? {})) scratch[name] = gpu.empty(spec.shape, spec.dtype);
    gpu.run(op.plan(gpu, inputs, outputs, attrs, scratch));
  } catch (err) {
    for (const t of Object.values(outputs)) t.destroy();
    throw err;
  } finally {
    for (const t of Object.values(scratch)) t.destroy(); // back to the pool; queued work still owns the memory
  }
  return outputs;
}

// ---- checks shared by the ops' `infer` --------------------------------------------------

export function required<T>(op: string, inputs: Named<T>, name: string): T {
  const t = inputs[name];
  if (t === undefined) throw new ShapeError(`${op}: missing input '${name}'`);
  return t;
}

export function expectDType(op: string, name: string, t: TensorSpec, ...dtypes: DType[]): void {
  if (!dtypes.includes(t.dtype)) throw new ShapeError(`${op}: input '${name}' has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
}

export function expectRank(op: string, name: string, t: TensorSpec, ...ranks: number[]): void {
  if (!ranks.includes(t.shape.length)) {
    throw new ShapeError(`${op}: input '${name}' has shape ${formatShape(t.shape)}, expected rank ${ranks.join(' or ')}`);
  }
}

export function expectShape(op: string, name: string, t: TensorSpec, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${op}: input '${name}' has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
  }
}

/** The binding of exactly a tensor's elements (a pooled buffer may be larger than its tensor). */
export function slice(t: TensorRef): { buffer: GPUBuffer; offset: number; size: number } {
  const bytes = shapeSize(t.shape) * BYTES_PER_ELEMENT[t.dtype];
  return { buffer: t.buffer, offset: t.offset, size: Math.ceil(bytes / 4) * 4 };
}
