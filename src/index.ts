// Tessera's public API.
export * from './device/index.ts';
export { runOp, type Named, type OpDef, type TensorSpec } from './ops/op.ts';
export { specialize, Uniforms } from './ops/shader.ts';
export * as ops from './ops/index.ts';
export * from './models/index.ts';
