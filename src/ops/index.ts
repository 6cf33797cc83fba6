// The kernel library: each op's definition (for the graph runtime) and its eager wrapper.
export { add, binaryOp, mul, type BinaryAttrs } from './binary.ts';
