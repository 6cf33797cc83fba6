/**
 * The state of one token sequence on the GPU: every layer's keys and values, the token the next
 * decode step reads, its position, the number of valid cache rows and the greedy history. Every
 * graph of a sequence binds these tensors as constants, so all its graphs see the same sequence.
 */

import type { Gpu } from '../../device/gpu.ts';
import { Tensor } from '../../device/tensor.ts';
import type { GraphBuilder } from '../../graph/builder.ts';
import type { KVCache, LmConfig } from '../decoder.ts';

export class SequenceState {
  /** i32 [1, 1]: the token the next decode step reads. */
  readonly ids: Tensor;
  /** u32 [1]: cache row of the first token of the next run. */
  readonly position: Tensor;
  /** u32 [1]: cache rows that attention reads in the next run. */
  readonly kvLength: Tensor;
  /** i32 [maxContext + 1]: history[p] is the id greedy decoding chose for position p. */
  readonly history: Tensor;
  /** Every layer's keys and values, [layers, rows, numKVHeads·headDim] (rows ≥ maxContext, padded so each layer starts at an aligned offset). */
  readonly kAll: Tensor;
  readonly vAll: Tensor;
  /** Per layer, views [1, maxContext, numKVHeads·headDim] of the above. */
  private readonly k: Tensor[] = [];
  private readonly v: Tensor[] = [];

  constructor(private readonly gpu: Gpu, config: LmConfig, maxContext: number) {
    // One buffer for all layers' keys (and one for values), which the one-kernel decode step
    // binds whole; the graphs bind one layer's rows, so each layer starts at an aligned offset.
    const kvWidth = config.numKVHeads * config.headDim;
    const align = gpu.limits.minStorageBufferOffsetAlignment / 4;
    const rowStep = align / gcd(kvWidth, align);
    const rows = Math.ceil(maxContext / rowStep) * rowStep;
    this.kAll = gpu.empty([config.numLayers, rows, kvWidth]);
    try {
      this.vAll = gpu.empty([config.numLayers, rows, kvWidth]);
    } catch (err) {
      this.kAll.destroy();
      throw err;
    }
    for (let i = 0; i < config.numLayers; i++) {
      for (const [all, views] of [[this.kAll, this.k], [this.vAll, this.v]] as const) {
        views.push(new Tensor(gpu, all.buffer, [1, maxContext, kvWidth], 'f32', all.offset + 4 * i * rows * kvWidth, all));
      }
    }
    this.ids = gpu.upload(new Int32Array(1), [1, 1], 'i32');
    this.position = gpu.upload(new Uint32Array(1), [1], 'u32');
    this.kvLength = gpu.upload(new Uint32Array(1), [1], 'u32');
    this.history = gpu.upload(new Int32Array(maxContext + 1), [maxContext + 1], 'i32');
  }

  /** The cache as a graph's constants: the position, the valid rows and each layer's keys and values. */
  bind(g: GraphBuilder): KVCache {
    return {
      position: g.constant('position', this.position),
      kvLength: g.constant('kv_length', this.kvLength),
      k: this.k.map((t, i) => g.constant(`k_cache.${i}`, t)),
      v: this.v.map((t, i) => g.constant(`v_cache.${i}`, t)),
    };
  }

  /** The next run starts at cache row `position` and attends to rows below `kvLength`. */
  setPosition(position: number, kvLength: number): void {
    this.gpu.write(this.position, [position]);
    this.gpu.write(this.kvLength, [kvLength]);
  }

  /** The next decode step reads token `id` at `position` (and attends to the rows up to it). */
  feed(id: number, position: number): void {
    this.gpu.write(this.ids, [id]);
    this.setPosition(position, position + 1);
  }

  destroy(): void {
    for (const t of [this.kAll, this.vAll, this.ids, this.position, this.kvLength, this.history]) t.destroy();
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
