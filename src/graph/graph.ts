import type { DType } from '../device/dtype.ts';
import { formatShape, shapeSize } from '../device/dtype.ts';
import { ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import type { Named, OpDef, TensorSpec } from '../ops/op.ts';

/**
 * What a value is:
 *  - input:        written from the host (or a device tensor) at every run
 *  - constant:     a weight, a device tensor bound once when the session is made
 *  - state:        persistent across runs and updated in place (a KV cache)
 *  - intermediate: produced by a node; its memory comes from the planner
 *  - view:         another value's memory seen with another shape (a free reshape)
 */
export type ValueKind = 'input' | 'constant' | 'state' | 'intermediate' | 'view';

export class Value implements TensorSpec {
  /** The node that computes this value (intermediates only). */
  producer: GraphNode | null = null;
  /** For views: the value whose memory this one reads, and the byte offset into it. */
  base: Value | null = null;
  byteOffset = 0;
  /** For constants: the device tensor. */
  tensor: Tensor | null = null;

  constructor(
    readonly id: number,
    public name: string,
    readonly kind: ValueKind,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {}

  get size(): number {
    return shapeSize(this.shape);
  }

  /** The value that owns the memory behind this one (itself unless it is a view). */
  get root(): Value {
    return this.base ? this.base.root : this;
  }

  toString(): string {
    return `${this.name}${formatShape(this.shape)}:${this.dtype}`;
  }
}

export class GraphNode {
  constructor(
    readonly id: number,
    readonly name: string,
    public op: OpDef<any>,
    public attrs: Record<string, unknown>,
    public inputs: Record<string, Value>,
    public outputs: Record<string, Value>,
  ) {}
}

/**
 * A static graph: values with fixed shapes and dtypes, and nodes that each name an op from
 * `src/ops`. Shapes are inferred as nodes are added, so a mistake is reported at the node
 * that makes it, with the shapes involved. Model code uses the builder methods in
 * `builder.ts`, which read like the math.
 */
export class Graph {
  readonly values: Value[] = [];
  readonly nodes: GraphNode[] = [];
  readonly outputs = new Map<string, Value>();
  private readonly names = new Set<string>();
  private scopes: string[] = [];

  constructor(readonly name = 'graph') {}

  /** Prefix the names of everything added inside `fn` (e.g. `h.3.attn`). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private uniqueName(name: string): string {
    const full = [...this.scopes, name].join('.');
    let unique = full;
    for (let i = 1; this.names.has(unique); i++) unique = `${full}_${i}`;
    this.names.add(unique);
    return unique;
  }

  private newValue(name: string, kind: ValueKind, shape: readonly number[], dtype: DType): Value {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1) throw new ShapeError(`${name}: bad shape ${formatShape(shape)} (dimensions must be positive integers)`);
    }
    const value = new Value(this.values.length, this.uniqueName(name), kind, [...shape], dtype);
    this.values.push(value);
    return value;
  }

  input(name: string, shape: readonly number[], dtype: DType = 'f32'): Value {
    return this.newValue(name, 'input', shape, dtype);
  }

  /** A weight: bound once; the tensor's shape and dtype become the value's. */
  constant(name: string, tensor: Tensor): Value {
    const value = this.newValue(name, 'constant', tensor.shape, tensor.dtype);
    value.tensor = tensor;
    return value;
  }

  /** Persistent memory that survives between runs (zeroed when the session is made). */
  state(name: string, shape: readonly number[], dtype: DType = 'f32'): Value {
    return this.newValue(name, 'state', shape, dtype);
  }

  /** The same memory with another shape. */
  reshape(x: Value, shape: readonly number[], name = `${x.name}.view`): Value {
    if (shapeSize(shape) !== x.size) {
      throw new ShapeError(`reshape '${name}': cannot view ${x} (${x.size} elements) as ${formatShape(shape)}`);
    }
    const view = this.newValue(name, 'view', shape, x.dtype);
    view.base = x;
    return view;
  }

  /** Add a node running `op`; returns its named outputs. */
  apply<A>(op: OpDef<A>, inputs: Named<Value>, attrs: A, name: string = op.name): Record<string, Value> {
    const present: Record<string, Value> = {};
    for (const [k, v] of Object.entries(inputs)) if (v) present[k] = v;
    const nodeName = this.uniqueName(name);
    let specs: Record<string, TensorSpec>;
    try {
      specs = op.infer(present, attrs);
    } catch (err) {
      const shapes = Object.entries(present).map(([k, v]) => `${k}=${v}`).join(', ');
      throw new ShapeError(`node '${nodeName}' (${op.name}): ${(err as Error).message} [inputs: ${shapes}]`);
    }
    const outputs: Record<string, Value> = {};
    for (const [k, spec] of Object.entries(specs)) {
      outputs[k] = this.newValue(`${name}.${k}`, 'intermediate', spec.shape, spec.dtype);
    }
    const node = new GraphNode(this.nodes.length, nodeName, op, attrs as Record<string, unknown>, present, outputs);
    for (const v of Object.values(outputs)) v.producer = node;
    this.nodes.push(node);
    return outputs;
  }

  /** Add a node at position `at` of the node list: for compiler passes that rewrite a built graph. */
  insert<A>(at: number, op: OpDef<A>, inputs: Named<Value>, attrs: A, name: string = op.name): Record<string, Value> {
    const outputs = this.apply(op, inputs, attrs, name);
    this.nodes.splice(at, 0, this.nodes.pop()!);
    return outputs;
  }

  /** Make everything that reads `old` (nodes, graph outputs, views) read `replacement` instead. */
  replaceUses(old: Value, replacement: Value): void {
    for (const node of this.nodes) for (const [k, v] of Object.entries(node.inputs)) if (v === old) node.inputs[k] = replacement;
    for (const [name, v] of this.outputs) if (v === old) this.outputs.set(name, replacement);
    for (const v of this.values) if (v.base === old && v !== replacement) v.base = replacement;
  }

  /** Mark a value as a graph output under `name`. */
  output(name: string, value: Value): void {
    if (this.outputs.has(name)) throw new Error(`graph '${this.name}': output '${name}' is defined twice`);
    this.outputs.set(name, value);
  }

  /** A JSON description (values, nodes, attributes; no weights) for tools and teaching. */
  toJSON(): object {
    return {
      name: this.name,
      values: this.values.map((v) => ({ id: v.id, name: v.name, kind: v.kind, shape: v.shape, dtype: v.dtype, ...(v.base ? { base: v.base.id } : {}) })),
      nodes: this.nodes.map((n) => ({
        name: n.name,
        op: n.op.name,
        attrs: n.attrs,
        inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, v]) => [k, v.id])),
        outputs: Object.fromEntries(Object.entries(n.outputs).map(([k, v]) => [k, v.id])),
      })),
      outputs: Object.fromEntries([...this.outputs].map(([k, v]) => [k, v.id])),
    };
  }

  /** Graphviz DOT: boxes are nodes, ellipses are inputs, weights, states and outputs. */
  toDot(): string {
    const lines = [`digraph "${this.name}" {`, '  rankdir=TB; node [fontname="Helvetica", fontsize=10];'];
    const source = (v: Value): string => {
      const root = v.kind === 'view' ? v.root : v;
      return root.producer ? `n${root.producer.id}` : `v${root.id}`;
    };
    for (const v of this.values) {
      if (v.kind === 'input' || v.kind === 'constant' || v.kind === 'state') {
        const style = v.kind === 'constant' ? 'style=filled, fillcolor="#eeeeee"' : v.kind === 'state' ? 'style=filled, fillcolor="#ffe9b3"' : 'style=filled, fillcolor="#cfe8ff"';
        lines.push(`  v${v.id} [shape=ellipse, ${style}, label="${v.name}\\n${formatShape(v.shape)} ${v.dtype}"];`);
      }
    }
    for (const n of this.nodes) {
      const attrs = Object.entries(n.attrs).filter(([, a]) => a !== undefined && typeof a !== 'object').map(([k, a]) => `${k}=${a}`).join(' ');
      lines.push(`  n${n.id} [shape=box, style="rounded,filled", fillcolor="#d8f5d0", label="${n.name}\\n${n.op.name}${attrs ? `\\n${attrs}` : ''}"];`);
      for (const [k, v] of Object.entries(n.inputs)) lines.push(`  ${source(v)} -> n${n.id} [label="${k} ${formatShape(v.shape)}", fontsize=8];`);
    }
    for (const [name, v] of this.outputs) {
      lines.push(`  out_${v.id}_${name.replace(/\W/g, '_')} [shape=ellipse, style=filled, fillcolor="#ffd0d0", label="${name}"];`);
      lines.push(`  ${source(v)} -> out_${v.id}_${name.replace(/\W/g, '_')};`);
    }
    lines.push('}');
    return lines.join('\n');
  }
}
