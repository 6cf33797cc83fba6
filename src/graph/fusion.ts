import { binaryOp } from '../ops/binary.ts';
import { layerNormOp, rmsNormOp } from '../ops/layernorm.ts';
import { matmulOp } from '../ops/matmul.ts';
import { unaryOp } from '../ops/unary.ts';
import type { Graph, GraphNode, Value } from './graph.ts';

/**
 * Fusion: fold elementwise work into the kernel that produces its input, so the intermediate
 * never goes to memory and a dispatch disappears. Four rules, applied until none fires:
 *
 *   matmul → add(·, bias[N])         ⇒ matmul with bias
 *   matmul → gelu | silu | relu      ⇒ matmul with that activation (after the bias)
 *   matmul → add(·, r) (same shape)  ⇒ matmul with residual r
 *   add(x, r) → layerNorm | rmsNorm  ⇒ norm with residual r, which also writes the sum x + r
 *
 * A value is folded away only when nothing else needs it: it has one consumer, is no graph
 * output and has no views. Moving an add into a later or earlier node is only done when every
 * value it reads already exists at the new place.
 */
export function fuse(graph: Graph): void {
  while (fuseOnce(graph));
}

function isEpilogueFree(node: GraphNode): boolean {
  return !node.attrs.activation || node.attrs.activation === 'none';
}

function fuseOnce(graph: Graph): boolean {
  const consumers = new Map<Value, GraphNode[]>();
  const viewed = new Set<Value>();
  for (const v of graph.values) if (v.base) viewed.add(v.base);
  for (const node of graph.nodes) for (const v of Object.values(node.inputs)) consumers.set(v, [...(consumers.get(v) ?? []), node]);
  const outputs = new Set(graph.outputs.values());
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  const soleConsumer = (v: Value): GraphNode | null => {
    const users = consumers.get(v) ?? [];
    return users.length === 1 && !outputs.has(v) && !viewed.has(v) ? users[0]! : null;
  };
  /** Is `v` available before node `at` runs? */
  const readyBefore = (v: Value, at: GraphNode): boolean => {
    const producer = v.root.producer;
    return !producer || index.get(producer)! < index.get(at)!;
  };

  for (const node of graph.nodes) {
    if (node.op === matmulOp) {
      const out = node.outputs.out!;
      const next = soleConsumer(out);
      if (!next) continue;
      if (next.op === binaryOp && next.attrs.op === 'add') {
        const other = next.inputs.a === out ? next.inputs.b! : next.inputs.a!;
        if (other === out) continue;
        const n = out.shape[out.shape.length - 1]!;
        if (next.inputs.a === out && other.shape.length === 1 && other.shape[0] === n && !node.inputs.bias && isEpilogueFree(node) && !node.inputs.residual) {
          if (!readyBefore(other, node)) continue;
          absorb(graph, node, next, { bias: other });
          return true;
        }
        if (other.shape.length === out.shape.length && other.shape.every((d, i) => d === out.shape[i]) && !node.inputs.residual && readyBefore(other, node)) {
          absorb(graph, node, next, { residual: other });
          return true;
        }
      }
      if (next.op === unaryOp && isEpilogueFree(node) && !node.inputs.residual) {
        node.attrs = { ...node.attrs, activation: next.attrs.fn };
        absorb(graph, node, next, {});
        return true;
      }
    }
    if (node.op === binaryOp && node.attrs.op === 'add') {
      const { a, b } = node.inputs as { a: Value; b: Value };
      if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) continue;
      const sum = node.outputs.out!;
      if (viewed.has(sum)) continue;
      const norm = (consumers.get(sum) ?? []).find((c) => (c.op === layerNormOp || c.op === rmsNormOp) && c.inputs.x === sum && !c.inputs.residual);
      if (!norm) continue;
      // The sum will now be written by the norm: nobody may read it between the add and the norm.
      if ((consumers.get(sum) ?? []).some((c) => index.get(c)! < index.get(norm)!)) continue;
      norm.inputs = { ...norm.inputs, x: a, residual: b };
      norm.outputs = { ...norm.outputs, sum };
      sum.producer = norm;
      graph.nodes.splice(index.get(node)!, 1);
      return true;
    }
  }
  return false;
}

/** Make `node` compute what `next` computed (with extra inputs) and drop `next`. */
function absorb(graph: Graph, node: GraphNode, next: GraphNode, inputs: Record<string, Value>): void {
  node.inputs = { ...node.inputs, ...inputs };
  const result = next.outputs.out!;
  node.outputs = { ...node.outputs, out: result };
  result.producer = node;
  graph.nodes.splice(graph.nodes.indexOf(next), 1);
}
