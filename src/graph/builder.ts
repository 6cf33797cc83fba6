import { argmaxOp } from '../ops/argmax.ts';
import { attentionOp, type AttentionAttrs } from '../ops/attention.ts';
import { binaryOp } from '../ops/binary.ts';
import { cacheWriteOp } from '../ops/cache-write.ts';
import { embeddingOp } from '../ops/embedding.ts';
import { layerNormOp, rmsNormOp } from '../ops/layernorm.ts';
import { matmulOp, type Activation } from '../ops/matmul.ts';
import { patchEmbedOp } from '../ops/patch-embed.ts';
import { ropeOp, type RopeAttrs } from '../ops/rope.ts';
import { softmaxOp } from '../ops/softmax.ts';
import { topKOp } from '../ops/topk.ts';
import { unaryOp, type UnaryFn } from '../ops/unary.ts';
import { Graph, type Value } from './graph.ts';

/**
 * The graph builder: one method per op, so model code reads like the math.
 *
 *   const h = g.layerNorm(x, ln.w, ln.b);
 *   const q = g.matmul(h, Wq, { bias: bq, transposeB: true });
 *
 * Every method adds one node (matmul's options a few; shapes are checked as each is added) and
 * returns its output. The graph is the unfused form; `compile`'s fusion pass picks the fused
 * kernels (see fusion.ts).
 */
export class GraphBuilder extends Graph {
  /**
   * a · op(b) (+ bias) (then activation) (+ residual), written as the plain nodes (a matmul, an
   * add, a unary, an add): the fusion pass folds them back into the matmul's epilogue.
   */
  matmul(a: Value, b: Value, o: { bias?: Value; residual?: Value; transposeB?: boolean; activation?: Activation; name?: string } = {}): Value {
    const name = o.name ?? 'matmul';
    let y = this.apply(matmulOp, { a, b }, { transposeB: o.transposeB }, name).out!;
    if (o.bias) y = this.add(y, o.bias, `${name}.bias`);
    if (o.activation && o.activation !== 'none') y = this.unary(y, o.activation, `${name}.${o.activation}`);
    if (o.residual) y = this.add(y, o.residual, `${name}.residual`);
    return y;
  }

  add(a: Value, b: Value, name = 'add'): Value {
    return this.apply(binaryOp, { a, b }, { op: 'add' }, name).out!;
  }

  mul(a: Value, b: Value, name = 'mul'): Value {
    return this.apply(binaryOp, { a, b }, { op: 'mul' }, name).out!;
  }

  unary(x: Value, fn: UnaryFn, name: string = fn): Value {
    return this.apply(unaryOp, { x }, { fn }, name).out!;
  }
  gelu(x: Value, name = 'gelu'): Value {
    return this.unary(x, 'gelu_tanh', name);
  }
  geluErf(x: Value, name = 'gelu'): Value {
    return this.unary(x, 'gelu_erf', name);
  }
  silu(x: Value, name = 'silu'): Value {
    return this.unary(x, 'silu', name);
  }
  relu(x: Value, name = 'relu'): Value {
    return this.unary(x, 'relu', name);
  }

  /** LayerNorm over the last dimension. */
  layerNorm(x: Value, weight: Value, bias: Value, eps = 1e-5, name = 'layernorm'): Value {
    return this.apply(layerNormOp, { x, weight, bias }, { eps }, name).out!;
  }

  rmsNorm(x: Value, weight: Value, eps = 1e-6, name = 'rmsnorm'): Value {
    return this.apply(rmsNormOp, { x, weight }, { eps }, name).out!;
  }

  softmax(x: Value, name = 'softmax'): Value {
    return this.apply(softmaxOp, { x }, {}, name).out!;
  }

  /** softmax(q·kᵀ·scale + masks)·v per head; `probs` is returned when attrs.returnProbs is set. */
  attention(q: Value, k: Value, v: Value, attrs: AttentionAttrs, o: { keyMask?: Value; kvLength?: Value; name?: string } = {}): { out: Value; probs?: Value } {
    const r = this.apply(attentionOp, { q, k, v, keyMask: o.keyMask, kvLength: o.kvLength }, attrs, o.name ?? 'attention');
    return { out: r.out!, probs: r.probs };
  }

  embedding(ids: Value, table: Value, o: { positions?: Value; position?: Value; scale?: number; name?: string } = {}): Value {
    return this.apply(embeddingOp, { ids, table, positions: o.positions, position: o.position }, { scale: o.scale }, o.name ?? 'embedding').out!;
  }

  rope(x: Value, attrs: RopeAttrs, position?: Value, name = 'rope'): Value {
    return this.apply(ropeOp, { x, position }, attrs, name).out!;
  }

  /** Append src to a KV-cache state at row position[0]. */
  cacheWrite(src: Value, cache: Value, position: Value, name = 'cache_write'): void {
    this.apply(cacheWriteOp, { src, cache, position }, {}, name);
  }

  patchEmbed(image: Value, weight: Value, bias: Value, patchSize: number, name = 'patch_embed'): Value {
    return this.apply(patchEmbedOp, { image, weight, bias }, { patchSize }, name).out!;
  }

  argmax(x: Value, name = 'argmax'): Value {
    return this.apply(argmaxOp, { x }, {}, name).out!;
  }

  topK(x: Value, k: number, name = 'topk'): { values: Value; indices: Value } {
    const r = this.apply(topKOp, { x }, { k }, name);
    return { values: r.values!, indices: r.indices! };
  }
}
