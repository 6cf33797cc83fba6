// Tessera's public API.
/// <reference types="@webgpu/types" preserve="true" />
// (kept in dist/types/index.d.ts: the declarations name WebGPU's GPU* types, so a consumer's
// compiler loads @webgpu/types, a dependency of the package.)
export * from './device/index.ts';
export { runOp, type Named, type OpDef, type TensorSpec } from './ops/op.ts';
export { specialize, Uniforms } from './ops/shader.ts';
export * as ops from './ops/index.ts';
export { Graph, GraphNode, Value, type ValueKind } from './graph/graph.ts';
export { GraphBuilder } from './graph/builder.ts';
export { compile, type CompiledGraph, type CompileOptions } from './graph/compile.ts';
export { type MemoryPlan } from './graph/planner.ts';
export { Session, type HostInput, type RunOptions, type SessionOptions } from './runtime/session.ts';
export { BucketedSession } from './runtime/buckets.ts';
export { formatProfile, type ProfileRow } from './runtime/profile.ts';
export { decodeNpy, encodeNpy } from './runtime/npy.ts';
export * from './models/index.ts';
