import type { Graph, Value } from './graph.ts';

/**
 * Expansion: a node whose op runs, for its shapes, as several other ops in a row (`op.expand`,
 * e.g. attention as matmul, softmax, matmul for ViT, or a prefill's qkv split then attention)
 * is replaced by those ops' nodes, so that their temporaries become graph values which the
 * memory planner shares, instead of scratch that each node would hold for the session's life.
 * The node's outputs keep their Values (and so their consumers); an output that a step writes
 * through a view becomes a view of that step's result.
 */
export function expand(graph: Graph): void {
  for (let i = 0; i < graph.nodes.length; i++) {
    const node = graph.nodes[i]!;
    const program = node.op.expand?.(node.inputs, node.attrs);
    if (!program) continue;
    graph.nodes.splice(i, 1);
    const named = new Map<string, Value>(Object.entries(node.inputs));
    const throughView = new Map<string, Value>(); // view name → the node output it is another shape of
    for (const [name, [of, shape]] of Object.entries(program.views)) {
      if (node.inputs[of]) named.set(name, graph.reshape(node.inputs[of]!, shape, `${node.name}.${name}`));
      else throughView.set(name, node.outputs[of]!);
    }
    let at = i;
    for (const step of program.steps) {
      const inputs = Object.fromEntries(Object.entries(step.inputs).map(([k, name]) => [k, named.get(name)]));
      const produced = graph.insert(at, step.op, inputs, step.attrs, `${node.name}.${step.name}`);
      const stepNode = graph.nodes[at++]!;
      for (const [k, name] of Object.entries(step.outputs)) {
        const own = node.outputs[name];
        if (own) {
          produced[k]!.producer = null;
          stepNode.outputs[k] = own;
          own.producer = stepNode;
          named.set(name, own);
        } else {
          named.set(name, produced[k]!);
          const output = throughView.get(name);
          if (output) {
            output.producer = null;
            graph.replaceUses(output, graph.reshape(produced[k]!, output.shape, output.name));
          }
        }
      }
    }
    i--; // the inserted nodes may expand further
  }
}
