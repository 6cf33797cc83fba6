import { BYTES_PER_ELEMENT, formatShape, fromF16Array, shapeSize, type HostArray } from '../device/dtype.ts';
import type { Dispatch, Gpu } from '../device/gpu.ts';
import { Tensor, type TensorRef } from '../device/tensor.ts';
import type { CompiledGraph } from '../graph/compile.ts';
import type { GraphNode, Value } from '../graph/graph.ts';
import type { Named } from '../ops/op.ts';
import { formatProfile, type ProfileRow } from './profile.ts';

export interface SessionOptions {
  /** Called as pipelines finish compiling (they compile asynchronously, up front). */
  onProgress?: (compiled: number, total: number) => void;
}

export interface RunOptions {
  /** Outputs to copy back to the host (default: all). The rest stay on the device: see `output()`. */
  download?: readonly string[];
  /** Time every node (GPU timestamps when the device has them, else one submit per node). */
  profile?: boolean;
  /**
   * Encode the whole graph this many times in one pass (default 1). Useful when the graph feeds
   * itself through states, e.g. a decode step whose argmax becomes the next step's input: N
   * tokens then cost one submit and one readback instead of N.
   */
  repeat?: number;
}

export type HostInput = ArrayLike<number> | Float32Array | Int32Array | Uint32Array;

const MAP_READ = 0x01, COPY_SRC = 0x04, COPY_DST = 0x08, QUERY_RESOLVE = 0x200;

interface PlannedNode {
  node: GraphNode;
  dispatches: Dispatch[];
  groups: GPUBindGroup[];
}

/** Record a node's dispatches with the bind groups made for them. */
function encodeNode(pass: GPUComputePassEncoder, p: PlannedNode): void {
  p.dispatches.forEach((d, i) => {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, p.groups[i]!);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
  });
}

/**
 * A compiled graph made ready to run: every buffer allocated, every pipeline compiled, every
 * bind group and uniform block written once. `run()` then only writes the inputs, encodes the
 * recorded dispatches into one compute pass, and reads back the outputs it is asked for.
 */
export class Session {
  private readonly refs = new Map<number, TensorRef>();
  private readonly owned: Tensor[] = [];
  private readonly slotBuffers: GPUBuffer[] = [];
  private readonly staging = new Map<string, GPUBuffer>();
  private planned: PlannedNode[] = [];
  private uniformBuffer: GPUBuffer | null = null;
  private lastProfile: ProfileRow[] = [];
  private destroyed = false;

  private constructor(readonly gpu: Gpu, readonly compiled: CompiledGraph) {}

  static async create(gpu: Gpu, compiled: CompiledGraph, options: SessionOptions = {}): Promise<Session> {
    const session = new Session(gpu, compiled);
    try {
      session.allocate();
      await session.compilePipelines(options.onProgress);
      session.record();
      await gpu.checkErrors();
    } catch (err) {
      session.destroy();
      throw err;
    }
    return session;
  }

  get graph() {
    return this.compiled.graph;
  }

  /** Planned bytes of intermediates, the naive sum, and the number of reused buffers. */
  get memory(): { plannedBytes: number; naiveBytes: number; buffers: number } {
    const m = this.compiled.memory;
    return { plannedBytes: m.plannedBytes, naiveBytes: m.naiveBytes, buffers: m.slots.length };
  }

  // ---- set-up ---------------------------------------------------------------------------

  private allocate(): void {
    const { graph, memory, persistent } = this.compiled;
    for (const size of memory.slots) this.slotBuffers.push(this.gpu.createBuffer(size, 0x80 | COPY_SRC | COPY_DST, `${graph.name}/slot`));
    const own = (v: Value): TensorRef => {
      const t = this.gpu.empty(v.shape, v.dtype);
      this.owned.push(t);
      return t;
    };
    for (const v of graph.values) {
      if (v.kind === 'view') continue;
      if (v.kind === 'constant') this.refs.set(v.id, v.tensor!);
      else if (v.kind === 'input' || v.kind === 'state' || persistent.has(v)) this.refs.set(v.id, own(v));
      else if (memory.slotOf.has(v.id)) {
        this.refs.set(v.id, { buffer: this.slotBuffers[memory.slotOf.get(v.id)!]!, offset: 0, shape: v.shape, dtype: v.dtype });
      }
    }
    this.resetState();
  }

  /** Where a value lives (views resolve to their root's memory). */
  private ref(v: Value): TensorRef {
    if (v.base) {
      const base = this.ref(v.base);
      return { buffer: base.buffer, offset: base.offset + v.byteOffset, shape: v.shape, dtype: v.dtype };
    }
    const r = this.refs.get(v.id);
    if (!r) throw new Error(`session '${this.graph.name}': value '${v.name}' has no memory (is it produced by a node that was removed?)`);
    return r;
  }

  private planNode(gpu: Gpu, node: GraphNode): Dispatch[] {
    const inputs: Record<string, TensorRef> = {};
    const outputs: Record<string, TensorRef> = {};
    for (const [k, v] of Object.entries(node.inputs)) inputs[k] = this.ref(v);
    for (const [k, v] of Object.entries(node.outputs)) outputs[k] = this.ref(v);
    const scratch: Record<string, TensorRef> = {};
    for (const [k, spec] of Object.entries(node.op.scratch?.(node.inputs, node.attrs) ?? {})) {
      const t = this.gpu.empty(spec.shape, spec.dtype);
      this.owned.push(t);
      scratch[k] = t;
    }
    return node.op.plan(gpu, inputs as Named<TensorRef>, outputs, node.attrs, scratch);
  }

  /** Plan once with a recorder that only collects shader sources, then compile them all in parallel. */
  private async compilePipelines(onProgress?: (done: number, total: number) => void): Promise<void> {
    const sources = new Map<string, [string, string]>();
    const recorder: Gpu = Object.create(this.gpu);
    recorder.pipeline = (kernel: string, source: string) => {
      sources.set(`${kernel}\n${source}`, [kernel, source]);
      return {} as GPUComputePipeline;
    };
    const scratchCount = this.owned.length;
    for (const node of this.compiled.schedule) this.planNode(recorder, node);
    this.owned.splice(scratchCount).forEach((t) => t.destroy()); // the real plan allocates its own
    let done = 0;
    onProgress?.(0, sources.size);
    await Promise.all(
      [...sources.values()].map(async ([kernel, source]) => {
        await this.gpu.pipelineAsync(kernel, source);
        onProgress?.(++done, sources.size);
      }),
    );
  }

  private record(): void {
    this.planned = this.compiled.schedule.map((node) => ({ node, dispatches: this.planNode(this.gpu, node), groups: [] }));
    const all = this.planned.flatMap((p) => p.dispatches);
    const block = this.gpu.uniformBlock(all);
    this.uniformBuffer = block?.buffer ?? null;
    let i = 0;
    for (const p of this.planned) {
      p.groups = p.dispatches.map((d) => {
        this.gpu.checkDispatch(d);
        this.gpu.pushScopes();
        const group = this.gpu.bindGroup(d, block?.slices[i++]);
        this.gpu.popScopes(d.kernel, `binding the buffers of ${d.kernel} in node '${p.node.name}'`);
        return group;
      });
    }
  }

  /** Zero every state tensor (e.g. to start a new sequence with an empty KV cache). */
  resetState(): void {
    for (const v of this.graph.values) {
      if (v.kind !== 'state') continue;
      const r = this.ref(v);
      const bytes = Math.ceil((shapeSize(v.shape) * BYTES_PER_ELEMENT[v.dtype]) / 4) * 4;
      const encoder = this.gpu.device.createCommandEncoder();
      encoder.clearBuffer(r.buffer, r.offset, bytes);
      this.gpu.device.queue.submit([encoder.finish()]);
    }
  }

  // ---- running ----------------------------------------------------------------------------

  private inputValue(name: string): Value {
    const v = this.graph.values.find((x) => x.kind === 'input' && x.name === name);
    if (!v) {
      const names = this.graph.values.filter((x) => x.kind === 'input').map((x) => x.name);
      throw new Error(`session '${this.graph.name}': no input named '${name}' (inputs: ${names.join(', ')})`);
    }
    return v;
  }

  private writeInputs(encoder: GPUCommandEncoder, inputs: Record<string, HostInput | Tensor>): void {
    const given = new Set(Object.keys(inputs));
    for (const v of this.graph.values) {
      if (v.kind === 'input' && !given.has(v.name)) throw new Error(`session '${this.graph.name}': input '${v.name}' ${formatShape(v.shape)} was not given`);
    }
    for (const [name, data] of Object.entries(inputs)) {
      const v = this.inputValue(name);
      const target = this.ref(v);
      if (data instanceof Tensor) {
        if (shapeSize(data.shape) !== v.size || data.dtype !== v.dtype) {
          throw new Error(`session '${this.graph.name}': input '${name}' wants ${v}, got a tensor ${formatShape(data.shape)}:${data.dtype}`);
        }
        encoder.copyBufferToBuffer(data.buffer, data.offset, target.buffer, target.offset, Math.ceil((v.size * BYTES_PER_ELEMENT[v.dtype]) / 4) * 4);
      } else {
        if (data.length !== v.size) throw new Error(`session '${this.graph.name}': input '${name}' wants ${v.size} values ${formatShape(v.shape)}, got ${data.length}`);
        this.gpu.write(target, data);
      }
    }
  }

  /**
   * Run the graph once. Inputs are host arrays or device tensors; returns the downloaded outputs.
   * Outputs not downloaded stay on the device (`output(name)`), e.g. to feed the next run.
   */
  async run(inputs: Record<string, HostInput | Tensor>, options: RunOptions = {}): Promise<Record<string, HostArray>> {
    if (this.destroyed) throw new Error(`session '${this.graph.name}' was destroyed`);
    const names = options.download ?? [...this.graph.outputs.keys()];
    for (const n of names) if (!this.graph.outputs.has(n)) throw new Error(`session '${this.graph.name}': no output named '${n}'`);
    const device = this.gpu.device;
    const encoder = device.createCommandEncoder();
    this.writeInputs(encoder, inputs);
    this.gpu.pushScopes();
    if (options.profile) {
      device.queue.submit([encoder.finish()]);
      this.gpu.popScopes(this.graph.name, `writing the inputs of '${this.graph.name}'`);
      this.lastProfile = await this.runProfiled();
      return this.download(names);
    }
    const repeat = options.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`session '${this.graph.name}': repeat must be a positive integer, got ${repeat}`);
    const pass = encoder.beginComputePass();
    for (let r = 0; r < repeat; r++) {
      for (const p of this.planned) encodeNode(pass, p);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    this.gpu.popScopes(this.graph.name, `running graph '${this.graph.name}'`);
    return this.download(names);
  }

  private async download(names: readonly string[]): Promise<Record<string, HostArray>> {
    const result: Record<string, HostArray> = {};
    if (names.length === 0) {
      await this.gpu.sync();
      return result;
    }
    const encoder = this.gpu.device.createCommandEncoder();
    const reads: [string, Value, GPUBuffer, number][] = [];
    for (const name of names) {
      const v = this.graph.outputs.get(name)!;
      const r = this.ref(v);
      const bytes = Math.ceil((v.size * BYTES_PER_ELEMENT[v.dtype]) / 4) * 4;
      let staging = this.staging.get(name);
      if (!staging) {
        staging = this.gpu.createBuffer(bytes, MAP_READ | COPY_DST, `${this.graph.name}/${name}/readback`);
        this.staging.set(name, staging);
      }
      encoder.copyBufferToBuffer(r.buffer, r.offset, staging, 0, bytes);
      reads.push([name, v, staging, bytes]);
    }
    this.gpu.device.queue.submit([encoder.finish()]);
    await Promise.all(reads.map(([, , staging]) => staging.mapAsync(0x0001)));
    await this.gpu.checkErrors();
    for (const [name, v, staging, bytes] of reads) {
      const data = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      result[name] =
        v.dtype === 'f32' ? new Float32Array(data) : v.dtype === 'i32' ? new Int32Array(data) : v.dtype === 'u32' ? new Uint32Array(data) : fromF16Array(new Uint16Array(data, 0, v.size));
    }
    return result;
  }

  /** One compute pass per node, bracketed by timestamps (or one timed submit per node). */
  private async runProfiled(): Promise<ProfileRow[]> {
    const device = this.gpu.device;
    const times: number[] = [];
    if (this.gpu.hasTimestamps) {
      const count = this.planned.length * 2;
      const querySet = device.createQuerySet({ type: 'timestamp', count });
      const resolve = this.gpu.createBuffer(count * 8, QUERY_RESOLVE | COPY_SRC, 'profile/resolve');
      const readback = this.gpu.createBuffer(count * 8, MAP_READ | COPY_DST, 'profile/readback');
      try {
        const encoder = device.createCommandEncoder();
        this.planned.forEach((p, n) => {
          const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * n, endOfPassWriteIndex: 2 * n + 1 } });
          encodeNode(pass, p);
          pass.end();
        });
        encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
        encoder.copyBufferToBuffer(resolve, 0, readback, 0, count * 8);
        device.queue.submit([encoder.finish()]);
        await readback.mapAsync(0x0001);
        const stamps = new BigInt64Array(readback.getMappedRange().slice(0));
        readback.unmap();
        for (let n = 0; n < this.planned.length; n++) times.push(Number(stamps[2 * n + 1]! - stamps[2 * n]!) / 1e6);
      } finally {
        querySet.destroy();
        this.gpu.destroyBuffer(resolve);
        this.gpu.destroyBuffer(readback);
      }
    } else {
      await device.queue.onSubmittedWorkDone();
      for (const p of this.planned) {
        const start = performance.now();
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        encodeNode(pass, p);
        pass.end();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        times.push(performance.now() - start);
      }
    }
    const total = times.reduce((a, b) => a + b, 0) || 1;
    return this.planned.map((p, n) => {
      const flops = p.dispatches.reduce((a, d) => a + (d.flops ?? 0), 0);
      const bytes = p.dispatches.reduce((a, d) => a + (d.bytes ?? 0), 0);
      const ms = times[n]!;
      return {
        node: p.node.name,
        kernel: [...new Set(p.dispatches.map((d) => d.kernel))].join('+'),
        shapes: Object.values(p.node.outputs).map((v) => formatShape(v.shape)).join(' '),
        ms,
        share: ms / total,
        gflops: flops && ms > 0 ? flops / ms / 1e6 : null,
        gbps: bytes && ms > 0 ? bytes / ms / 1e6 : null,
        timing: this.gpu.hasTimestamps ? 'gpu' : 'cpu',
      } satisfies ProfileRow;
    });
  }

  /** The per-node table of the last `run(..., { profile: true })`. */
  profile(): ProfileRow[] {
    return this.lastProfile;
  }

  profileTable(): string {
    return formatProfile(this.lastProfile);
  }

  /** A device view of an output (valid until the next run overwrites it). */
  output(name: string): Tensor {
    const v = this.graph.outputs.get(name);
    if (!v) throw new Error(`session '${this.graph.name}': no output named '${name}'`);
    const r = this.ref(v);
    return Tensor.borrow(this.gpu, { ...r, shape: v.shape });
  }

  /** A device view of a state tensor. */
  state(name: string): Tensor {
    const v = this.graph.values.find((x) => x.kind === 'state' && x.name === name);
    if (!v) throw new Error(`session '${this.graph.name}': no state named '${name}'`);
    const r = this.ref(v);
    return Tensor.borrow(this.gpu, { ...r, shape: v.shape });
  }

  /** Free every buffer the session made (weights belong to the caller and are kept). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of this.owned) if (!t.isDestroyed) t.destroy();
    for (const b of this.slotBuffers) this.gpu.destroyBuffer(b);
    for (const b of this.staging.values()) this.gpu.destroyBuffer(b);
    if (this.uniformBuffer) this.gpu.destroyBuffer(this.uniformBuffer);
    this.owned.length = 0;
    this.slotBuffers.length = 0;
    this.staging.clear();
  }
}
