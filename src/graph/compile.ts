import type { Graph, GraphNode, Value } from './graph.ts';
import { expand } from './expand.ts';
import { fuse } from './fusion.ts';
import { planMemory, type MemoryPlan } from './planner.ts';

export interface CompileOptions {
  /** Run the fusion pass (fusion.ts: epilogues, prologues, attention's projection; default true). */
  fuse?: boolean;
}

export interface CompiledGraph {
  graph: Graph;
  /** Nodes in execution order. */
  schedule: GraphNode[];
  memory: MemoryPlan;
  /** Values with memory of their own that outlives a run: inputs, graph outputs, states. */
  persistent: Set<Value>;
  /** How often each fusion pattern fired (see fusion.ts). */
  fused: Map<string, number>;
}

/**
 * Compile a graph: fuse, expand the ops that run as several (see expand.ts), keep only the nodes that lead to an output or write a state, order
 * them, and plan the memory of the intermediates.
 */
export function compile(graph: Graph, options: CompileOptions = {}): CompiledGraph {
  if (graph.outputs.size === 0) throw new Error(`graph '${graph.name}' has no outputs: mark results with g.output(name, value)`);
  const fused = options.fuse ?? true ? fuse(graph) : new Map<string, number>();
  expand(graph);
  const schedule = schedulePass(graph);
  const persistent = new Set<Value>();
  for (const v of graph.outputs.values()) persistent.add(v.root);
  const memory = planMemory(schedule, persistent);
  return { graph, schedule, memory, persistent, fused };
}

/**
 * Nodes are added in program order, which is already topological (a node's inputs exist
 * before it). Keep that order — it also orders writes to a state before later reads — and
 * drop nodes whose results nothing needs.
 */
function schedulePass(graph: Graph): GraphNode[] {
  const needed = new Set<GraphNode>();
  const visit = (v: Value): void => {
    const producer = v.root.producer;
    if (producer && !needed.has(producer)) {
      needed.add(producer);
      Object.values(producer.inputs).forEach(visit);
    }
  };
  for (const v of graph.outputs.values()) visit(v);
  for (const node of graph.nodes) {
    if (node.op.writes?.some((name) => node.inputs[name]) && !needed.has(node)) {
      needed.add(node);
      Object.values(node.inputs).forEach(visit);
    }
  }
  return graph.nodes.filter((n) => needed.has(n));
}
