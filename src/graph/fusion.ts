import { attentionOp, attentionTakesProjection, type AttentionAttrs } from '../ops/attention.ts';
import { binaryOp } from '../ops/binary.ts';
import { fusedMatvecOp } from '../ops/fused-matvec.ts';
import { layerNormOp, rmsNormOp } from '../ops/layernorm.ts';
import { matmulOp } from '../ops/matmul.ts';
import { swigluOp } from '../ops/swiglu.ts';
import { unaryOp } from '../ops/unary.ts';
import type { Graph, GraphNode, Value } from './graph.ts';

/**
 * Widest layer input (K) for which one token's norm or SwiGLU gate is folded into the
 * projection after it (fusedMatvecOp): there, on lavapipe, dispatches cost more than the
 * arithmetic; wider layers keep the bandwidth-tuned matvec kernel.
 */
const FUSED_MATVEC_MAX_K = 1024;
/** maxStorageBufferBindingSize that every WebGPU device offers (128 MiB): fusedMatvec binds its weight whole. */
const DEFAULT_MAX_BINDING_BYTES = 128 * 1024 * 1024;

/**
 * Fusion: fold work into the kernel next to it, so the intermediate never goes to memory and a
 * dispatch disappears. Models write the plain graph; this pass picks the fused kernels from a
 * table of patterns (a producer → its sole consumer), applied until none fires (the epilogues
 * before the rest, so that a projection has its residual when a prologue folds into it):
 *
 *   matmul → add(·, bias[N])            ⇒ matmul with bias
 *   matmul → gelu | silu | relu         ⇒ matmul with that activation (after the bias)
 *   matmul → add(·, r) (same shape)     ⇒ matmul with residual r
 *   add(x, r) → layerNorm | rmsNorm     ⇒ norm with residual r, which also writes the sum x + r
 *   rmsNorm → matmul (one row)          ⇒ fusedMatvec(rmsnorm): the norm as the product's prologue
 *   swiglu → matmul (one row)           ⇒ fusedMatvec(swiglu): the gate as the product's prologue
 *   attention → matmul(·, o) + r        ⇒ attention with its output projection (decode, small)
 *
 * A value is folded away only when nothing else needs it: it has one consumer, is no graph
 * output and has no views. Moving an input into a later or earlier node is only done when
 * every value it reads already exists at the new place. Returns how often each pattern fired.
 */
export function fuse(graph: Graph): Map<string, number> {
  const fired = new Map<string, number>();
  for (let rule: string | null; (rule = fuseOnce(graph)) !== null;) fired.set(rule, (fired.get(rule) ?? 0) + 1);
  return fired;
}

/** What a pattern may ask about the graph as it stands. */
interface Context {
  graph: Graph;
  /** The one node that reads `v`, if `v` may be folded away. */
  soleConsumer(v: Value): GraphNode | null;
  consumers(v: Value): GraphNode[];
  viewed(v: Value): boolean;
  /** Is `v` available before node `at` runs? */
  readyBefore(v: Value, at: GraphNode): boolean;
  position(node: GraphNode): number;
}

interface Pattern {
  name: string;
  /** Rewrite the graph at `node` if the pattern matches there; true when it did. */
  at(node: GraphNode, c: Context): boolean;
}

const isEpilogueFree = (node: GraphNode): boolean => !node.attrs.activation || node.attrs.activation === 'none';
const sameShape = (a: Value, b: Value): boolean => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** A plain `a · bᵀ` of one row that fusedMatvec can take over: b [N, K] a weight that binds whole. */
function oneRowProjection(node: GraphNode, input: Value): boolean {
  const { a, b, bias } = node.inputs;
  if (node.op !== matmulOp || a !== input || bias || !isEpilogueFree(node) || !node.attrs.transposeB || b!.shape.length !== 2) return false;
  const K = b!.shape[1]!;
  return a.size === a.shape[a.shape.length - 1]! && K <= FUSED_MATVEC_MAX_K && 4 * b!.size <= DEFAULT_MAX_BINDING_BYTES;
}

/** Epilogues first (a projection takes its bias and residual), then the prologues and attention's projection. */
const PATTERNS: readonly (readonly Pattern[])[] = [[
  {
    name: 'matmul+bias',
    at(node, c) {
      const next = node.op === matmulOp ? c.soleConsumer(node.outputs.out!) : null;
      if (!next || next.op !== binaryOp || next.attrs.op !== 'add') return false;
      const out = node.outputs.out!, bias = next.inputs.b!;
      if (next.inputs.a !== out || bias === out || bias.shape.length !== 1 || bias.shape[0] !== out.shape[out.shape.length - 1]) return false;
      if (node.inputs.bias || !isEpilogueFree(node) || node.inputs.residual || !c.readyBefore(bias, node)) return false;
      absorb(c.graph, node, next, { bias });
      return true;
    },
  },
  {
    name: 'matmul+residual',
    at(node, c) {
      const next = node.op === matmulOp ? c.soleConsumer(node.outputs.out!) : null;
      if (!next || next.op !== binaryOp || next.attrs.op !== 'add') return false;
      const out = node.outputs.out!;
      const other = next.inputs.a === out ? next.inputs.b! : next.inputs.a!;
      if (other === out || !sameShape(other, out) || node.inputs.residual || !c.readyBefore(other, node)) return false;
      absorb(c.graph, node, next, { residual: other });
      return true;
    },
  },
  {
    name: 'matmul+activation',
    at(node, c) {
      const next = node.op === matmulOp ? c.soleConsumer(node.outputs.out!) : null;
      if (!next || next.op !== unaryOp || !isEpilogueFree(node) || node.inputs.residual) return false;
      node.attrs = { ...node.attrs, activation: next.attrs.fn };
      absorb(c.graph, node, next, {});
      return true;
    },
  },
  {
    name: 'add+norm',
    at(node, c) {
      if (node.op !== binaryOp || node.attrs.op !== 'add') return false;
      const { a, b } = node.inputs as { a: Value; b: Value };
      const sum = node.outputs.out!;
      if (!sameShape(a, b) || c.viewed(sum)) return false;
      const norm = c.consumers(sum).find((n) => (n.op === layerNormOp || n.op === rmsNormOp) && n.inputs.x === sum && !n.inputs.residual);
      // The sum will now be written by the norm: nobody may read it between the add and the norm.
      if (!norm || c.consumers(sum).some((n) => c.position(n) < c.position(norm))) return false;
      norm.inputs = { ...norm.inputs, x: a, residual: b };
      norm.outputs = { ...norm.outputs, sum };
      sum.producer = norm;
      c.graph.nodes.splice(c.position(node), 1);
      return true;
    },
  },
], [
  {
    name: 'rmsnorm+matvec',
    at(node, c) {
      if (node.op !== rmsNormOp || node.inputs.residual) return false;
      const next = c.soleConsumer(node.outputs.out!);
      if (!next || !oneRowProjection(next, node.outputs.out!)) return false;
      const { b, residual } = next.inputs;
      next.op = fusedMatvecOp;
      next.attrs = { prologue: 'rmsnorm', eps: node.attrs.eps };
      next.inputs = { a: node.inputs.x!, b: b!, gain: node.inputs.weight!, ...(residual ? { residual } : {}) };
      c.graph.nodes.splice(c.position(node), 1);
      return true;
    },
  },
  {
    name: 'swiglu+matvec',
    at(node, c) {
      if (node.op !== swigluOp) return false;
      const next = c.soleConsumer(node.outputs.out!);
      if (!next || !oneRowProjection(next, node.outputs.out!)) return false;
      const { b, residual } = next.inputs;
      next.op = fusedMatvecOp;
      next.attrs = { prologue: 'swiglu' };
      next.inputs = { a: node.inputs.x!, b: b!, ...(residual ? { residual } : {}) };
      c.graph.nodes.splice(c.position(node), 1);
      return true;
    },
  },
  {
    name: 'attention+projection',
    at(node, c) {
      if (node.op !== attentionOp || node.inputs.o) return false;
      const next = c.soleConsumer(node.outputs.out!);
      if (!next || next.op !== matmulOp || next.inputs.a !== node.outputs.out || next.inputs.bias || !isEpilogueFree(next) || !next.attrs.transposeB) return false;
      const { b: o, residual } = next.inputs;
      if (!residual || !c.readyBefore(residual, node) || !attentionTakesProjection(node.inputs, node.attrs as unknown as AttentionAttrs, o!)) return false;
      absorb(c.graph, node, next, { o: o!, residual });
      return true;
    },
  },
]];

function fuseOnce(graph: Graph): string | null {
  const consumers = new Map<Value, GraphNode[]>();
  const viewed = new Set<Value>();
  for (const v of graph.values) if (v.base) viewed.add(v.base);
  for (const node of graph.nodes) for (const v of Object.values(node.inputs)) consumers.set(v, [...(consumers.get(v) ?? []), node]);
  const outputs = new Set(graph.outputs.values());
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const c: Context = {
    graph,
    consumers: (v) => consumers.get(v) ?? [],
    viewed: (v) => viewed.has(v),
    soleConsumer(v) {
      const users = consumers.get(v) ?? [];
      return users.length === 1 && !outputs.has(v) && !viewed.has(v) ? users[0]! : null;
    },
    readyBefore(v, at) {
      const producer = v.root.producer;
      return !producer || index.get(producer)! < index.get(at)!;
    },
    position: (node) => index.get(node)!,
  };
  for (const group of PATTERNS) {
    for (const node of graph.nodes) {
      for (const pattern of group) if (pattern.at(node, c)) return pattern.name;
    }
  }
  return null;
}

/** Make `node` compute what `next` computed (with extra inputs) and drop `next`. */
function absorb(graph: Graph, node: GraphNode, next: GraphNode, inputs: Record<string, Value>): void {
  node.inputs = { ...node.inputs, ...inputs };
  const result = next.outputs.out!;
  node.outputs = { ...node.outputs, out: result };
  result.producer = node;
  graph.nodes.splice(graph.nodes.indexOf(next), 1);
}
