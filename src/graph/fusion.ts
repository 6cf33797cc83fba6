import type { Graph } from './graph.ts';

/** Placeholder until the fusion rules land with the matmul and norm ops. */
export function fuse(_graph: Graph): void {}
