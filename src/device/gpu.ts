import { BYTES_PER_ELEMENT, formatShape, fromF16Array, shapeSize, toF16Array, type DType, type HostArray } from './dtype.ts';
import { DeviceLostError, KernelError, LimitError, noAdapterMessage, NoAdapterError, WebGPUUnavailableError } from './errors.ts';
import { BufferPool } from './pool.ts';
import { Tensor, type TensorRef } from './tensor.ts';
import { tuningProfileFor, type AdapterDescription, type TuningOverrides, type TuningProfile } from './tuning.ts';

/** A range of a buffer bound to one storage binding. */
export interface BufferSlice {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

/** A texture bound whole to one binding, for kernels that read it with textureLoad. */
export interface TextureBinding {
  texture: GPUTextureView;
}

/**
 * One kernel launch, fully resolved: the eager API runs it at once, the graph runtime
 * turns it into a bind group that is made once and replayed. Binding 0 holds `uniforms`
 * (when present), storage buffers (and textures) follow from binding 1 in order.
 */
export interface Dispatch {
  /** Kernel name, used in errors and profiles. */
  kernel: string;
  pipeline: GPUComputePipeline;
  uniforms?: ArrayBuffer;
  bindings: (BufferSlice | TextureBinding)[];
  workgroups: readonly [number, number?, number?];
  /** Work done, for the profiler's GFLOP/s and GB/s columns. */
  flops?: number;
  bytes?: number;
}

export type Defines = Record<string, string | number | boolean>;

/** The features Tessera asks for when the adapter offers them. */
const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
/** Limits raised to the adapter's maximum: big weights and big workgroup tiles need them. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

export interface DeviceReport {
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
  features: string[];
  limits: Record<(typeof RAISED_LIMITS)[number] | 'minStorageBufferOffsetAlignment' | 'minUniformBufferOffsetAlignment', number>;
}

export interface CreateDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Leave out optional features, e.g. to test the code paths that do without them. */
  disableFeatures?: string[];
  /** Change the tuning profile the adapter picks (tests and benchmarks); see src/device/tuning.ts. */
  tuning?: TuningOverrides;
}

const STORAGE_USAGE = 0x80 | 0x08 | 0x04; // STORAGE | COPY_DST | COPY_SRC (GPUBufferUsage is not global in Node)
const USAGE = { MAP_READ: 0x01, COPY_SRC: 0x04, COPY_DST: 0x08, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 };

function errorKind(error: GPUError): string {
  return error.constructor.name.replace(/^GPU/, '');
}

async function getGpuApi(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) {
    throw new WebGPUUnavailableError(
      'WebGPU is not available in this browser (navigator.gpu is missing). Use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), served over https or localhost.',
    );
  }
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp'; // Dawn's Vulkan loader warns without it
  let webgpu: { create(flags: string[]): GPU; globals: object };
  try {
    webgpu = await import(/* @vite-ignore */ 'webgpu' as string);
  } catch (err) {
    throw new WebGPUUnavailableError(`WebGPU for Node needs the 'webgpu' package (Dawn's bindings): npm install webgpu. (${String(err)})`);
  }
  Object.assign(globalThis, webgpu.globals);
  return webgpu.create([]);
}

/** Open the GPU: in the browser through `navigator.gpu`, in Node through Dawn's `webgpu` package. */
export async function createDevice(options: CreateDeviceOptions = {}): Promise<Gpu> {
  const api = await getGpuApi();
  const adapter = await api.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NoAdapterError(noAdapterMessage());
  }
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !options.disableFeatures?.includes(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures: features as GPUFeatureName[], requiredLimits });
  const info = adapter.info;
  const report: DeviceReport = {
    adapter: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean })?.isFallbackAdapter ?? false,
    },
    features: [...device.features].filter((f) => (OPTIONAL_FEATURES as readonly string[]).includes(f)).sort(),
    limits: Object.fromEntries(
      [...RAISED_LIMITS, 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment'].map((k) => [k, device.limits[k as keyof GPUSupportedLimits] as number]),
    ) as DeviceReport['limits'],
  };
  return new Gpu(api, device, report, options.tuning);
}

export interface PendingCheck {
  kernel: string;
  what: string;
  errors: Promise<(GPUError | null)[]>;
}

/**
 * A ready GPU: the device, what it supports, a buffer pool, a pipeline cache, and the
 * error bookkeeping that turns WebGPU's asynchronous errors into exceptions that name a kernel.
 */
export class Gpu {
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /**
   * The compile check of each pipeline whose compilation may still fail. A failed pipeline is
   * cached like any other, so every later run re-reports the compiler's message (instead of
   * WebGPU's bare "invalid due to a previous error"); checks that pass are dropped.
   */
  private readonly compileChecks = new Map<GPUComputePipeline, PendingCheck>();
  private pending: PendingCheck[] = [];
  /** Errors raised outside any error scope (raw `gpu.device` calls): thrown by the next check. */
  private uncaptured: GPUError[] = [];
  private lostMessage: string | null = null;
  private readonly lostPromise: Promise<never>;
  private liveBytes = 0;
  /** Every kernel's performance choices for this adapter (src/device/tuning.ts). */
  readonly tuning: TuningProfile;

  /**
   * `api` is the GPU object the adapter came from. Holding it matters in Node: if Dawn's
   * instance is garbage-collected, its event loop touches freed memory and the process crashes.
   */
  constructor(readonly api: GPU, readonly device: GPUDevice, readonly report: DeviceReport, tuning: TuningOverrides = {}) {
    const info = (device as GPUDevice & { adapterInfo?: AdapterDescription }).adapterInfo;
    const adapter = { ...report.adapter, subgroupMinSize: info?.subgroupMinSize, subgroupMaxSize: info?.subgroupMaxSize };
    this.tuning = tuningProfileFor(adapter, report.features, report.limits, tuning);
    this.pool = new BufferPool(
      (bytes) => this.createBuffer(bytes, STORAGE_USAGE, 'tensor'),
      (buffer) => this.destroyBuffer(buffer),
    );
    this.lostPromise = device.lost.then((info) => {
      this.lostMessage = `the GPU device was lost (${info.reason ?? 'unknown'}): ${info.message || 'no message'}`;
      throw new DeviceLostError(this.lostMessage);
    });
    this.lostPromise.catch(() => {}); // observed by every await below; never an unhandled rejection
    device.addEventListener('uncapturederror', (event) => {
      event.preventDefault(); // reported through checkErrors instead of the console
      this.uncaptured.push((event as GPUUncapturedErrorEvent).error);
    });
  }

  get features(): ReadonlySet<string> {
    return new Set(this.report.features);
  }
  get hasF16(): boolean {
    return this.report.features.includes('shader-f16');
  }
  get hasSubgroups(): boolean {
    return this.report.features.includes('subgroups');
  }
  /**
   * The subgroup size when it is fixed and at least 8, else null: kernels that share loads across
   * a subgroup by broadcasting from lanes 0..7 need exactly this (matmul, the Llama decode step).
   */
  get broadcastLanes(): number | null {
    const size = this.tuning.subgroupSize;
    return size !== null && size >= 8 ? size : null;
  }
  get hasTimestamps(): boolean {
    return this.report.features.includes('timestamp-query');
  }
  get limits(): DeviceReport['limits'] {
    return this.report.limits;
  }
  /** Bytes in GPU buffers created through this Gpu and not yet destroyed (pooled ones included). */
  get allocatedBytes(): number {
    return this.liveBytes;
  }
  get isLost(): boolean {
    return this.lostMessage !== null;
  }

  private assertUsable(): void {
    if (this.lostMessage) throw new DeviceLostError(this.lostMessage);
  }

  // ---- buffers and tensors ----------------------------------------------------------

  createBuffer(bytes: number, usage: number, label: string): GPUBuffer {
    this.assertUsable();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.limits.maxBufferSize) {
      throw new LimitError(`${label}: ${size} bytes exceed this device's maxBufferSize of ${this.limits.maxBufferSize} bytes`);
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.liveBytes += buffer.size;
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size;
    buffer.destroy();
  }

  /** Return a tensor buffer to the pool (called by `Tensor.destroy`). */
  releaseBuffer(buffer: GPUBuffer): void {
    if (this.lostMessage) return this.destroyBuffer(buffer);
    this.pool.release(buffer);
  }

  /** An uninitialised tensor from the pool. */
  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1) throw new Error(`empty: bad shape ${formatShape(shape)}: every dimension must be a positive integer`);
    }
    const bytes = shapeSize(shape) * BYTES_PER_ELEMENT[dtype];
    if (dtype === 'f16' && !this.hasF16) throw new LimitError("f16 tensors need the 'shader-f16' feature, which this adapter does not offer");
    return new Tensor(this, this.pool.acquire(bytes), [...shape], dtype);
  }

  /** Copy host data into a new tensor. f16 tensors take float data and round it to half precision. */
  upload(data: ArrayLike<number> | Float32Array | Int32Array | Uint32Array, shape: readonly number[] = [data.length], dtype?: DType): Tensor {
    const type: DType = dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
    if (shapeSize(shape) !== data.length) {
      throw new Error(`upload: ${data.length} values do not fill shape ${formatShape(shape)} (${shapeSize(shape)} elements)`);
    }
    const tensor = this.empty(shape, type);
    this.write(tensor, data);
    return tensor;
  }

  /** Overwrite a tensor's contents from the host. */
  write(tensor: TensorRef, data: ArrayLike<number>): void {
    this.assertUsable();
    const n = shapeSize(tensor.shape);
    if (data.length !== n) throw new Error(`write: ${data.length} values for a tensor of ${n} elements`);
    let bytes: ArrayBufferView;
    switch (tensor.dtype) {
      case 'f32': bytes = data instanceof Float32Array ? data : Float32Array.from(data); break;
      case 'i32': bytes = data instanceof Int32Array ? data : Int32Array.from(data); break;
      case 'u32': bytes = data instanceof Uint32Array ? data : Uint32Array.from(data); break;
      case 'f16': {
        const half = toF16Array(data);
        // writeBuffer needs a multiple of 4 bytes; the pooled buffer always has room for the pad.
        bytes = half.length % 2 ? Uint16Array.from([...half, 0]) : half;
        break;
      }
    }
    this.pushScopes();
    this.device.queue.writeBuffer(tensor.buffer, tensor.offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.popScopes('upload', `writing ${bytes.byteLength} bytes at offset ${tensor.offset} of a ${tensor.buffer.size}-byte buffer`);
  }

  /** Read a tensor back after all submitted work, throwing any error that work raised. */
  async readTensor<D extends DType>(tensor: TensorRef & { dtype: D }): Promise<HostArray<D>> {
    const n = shapeSize(tensor.shape);
    const bytes = n * BYTES_PER_ELEMENT[tensor.dtype];
    const data = await this.readBytes(tensor.buffer, tensor.offset, bytes);
    switch (tensor.dtype) {
      case 'f32': return new Float32Array(data) as HostArray<D>;
      case 'i32': return new Int32Array(data) as HostArray<D>;
      case 'u32': return new Uint32Array(data) as HostArray<D>;
      default: return fromF16Array(new Uint16Array(data, 0, n)) as HostArray<D>;
    }
  }

  /** Copy `bytes` bytes at `offset` of `buffer` to the host (any offset: copies move whole 4-byte words). */
  async readBytes(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.assertUsable();
    const start = offset - (offset % 4);
    const padded = Math.ceil((offset + bytes - start) / 4) * 4;
    const label = buffer.label || 'tensor';
    const staging = this.device.createBuffer({ size: padded, usage: USAGE.MAP_READ | USAGE.COPY_DST, label: 'readback' });
    try {
      this.pushScopes();
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, start, staging, 0, padded);
      this.device.queue.submit([encoder.finish()]);
      this.popScopes('download', `copying ${bytes} bytes at offset ${offset} of buffer '${label}' (${buffer.size} bytes) to the host`);
      try {
        await Promise.race([staging.mapAsync(0x0001 /* GPUMapMode.READ */), this.lostPromise]);
      } catch (err) {
        if (err instanceof DeviceLostError) throw err;
        await this.checkErrors(); // a validation error explains the failed map better than the map does
        if (this.lostMessage) throw new DeviceLostError(this.lostMessage);
        throw new KernelError('download', `mapping the readback buffer failed: ${(err as Error).message}`);
      }
      await this.checkErrors();
      return staging.getMappedRange().slice(offset - start, offset - start + bytes);
    } finally {
      staging.destroy();
    }
  }

  // ---- pipelines and dispatch ---------------------------------------------------------

  /**
   * A compute pipeline for `source`, cached by kernel name and source. Compilation errors
   * surface, with the compiler's message, as a KernelError on the next `sync()` or download.
   */
  pipeline(kernel: string, source: string): GPUComputePipeline {
    this.assertUsable();
    const key = `${kernel}\n${source}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      this.pushScopes();
      const module = this.device.createShaderModule({ code: source, label: kernel });
      const compiled = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel });
      const check = this.popScopes(kernel, `compiling ${kernel}`);
      this.compileChecks.set(compiled, check);
      check.errors.then((errors) => errors.every((e) => e === null) && this.compileChecks.delete(compiled), () => {});
      this.pipelines.set(key, compiled);
      pipeline = compiled;
    }
    return pipeline;
  }

  /** Like `pipeline`, but compiles off the main thread and rejects at once with the compiler's message. */
  async pipelineAsync(kernel: string, source: string): Promise<GPUComputePipeline> {
    this.assertUsable();
    const key = `${kernel}\n${source}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    // The rejection below carries the compiler's messages; the scope keeps them from also
    // surfacing as an uncaptured error (a console error in browsers).
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: source, label: kernel });
    this.device.popErrorScope().catch(() => {});
    try {
      const pipeline = await this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: kernel });
      this.pipelines.set(key, pipeline);
      return pipeline;
    } catch (err) {
      const info = await module.getCompilationInfo();
      const details = info.messages.map((m) => `${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new KernelError(kernel, `pipeline creation failed: ${details || (err as Error).message}`);
    }
  }

  /** A bind group for one dispatch (binding 0: uniforms if given, then storage buffers and textures). */
  bindGroup(dispatch: Dispatch, uniformBuffer?: GPUBufferBinding): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    if (uniformBuffer) entries.push({ binding: 0, resource: uniformBuffer });
    dispatch.bindings.forEach((b, i) => {
      entries.push({ binding: i + 1, resource: 'texture' in b ? b.texture : { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } });
    });
    return this.device.createBindGroup({ layout: dispatch.pipeline.getBindGroupLayout(0), entries, label: dispatch.kernel });
  }

  /** Pack the dispatches' uniform blocks into one buffer, each at an aligned offset. */
  uniformBlock(dispatches: readonly Dispatch[]): { buffer: GPUBuffer; slices: (GPUBufferBinding | undefined)[] } | null {
    const align = this.limits.minUniformBufferOffsetAlignment;
    let size = 0;
    const offsets = dispatches.map((d) => {
      if (!d.uniforms) return -1;
      const at = size;
      size += Math.ceil(d.uniforms.byteLength / align) * align;
      return at;
    });
    if (size === 0) return null;
    const buffer = this.createBuffer(size, USAGE.UNIFORM | USAGE.COPY_DST, 'uniforms');
    const bytes = new Uint8Array(size);
    dispatches.forEach((d, i) => d.uniforms && bytes.set(new Uint8Array(d.uniforms), offsets[i]!));
    this.device.queue.writeBuffer(buffer, 0, bytes);
    const slices = dispatches.map((d, i) => (d.uniforms ? { buffer, offset: offsets[i]!, size: d.uniforms.byteLength } : undefined));
    return { buffer, slices };
  }

  /** Encode the dispatches into one compute pass and submit them. Errors name the kernel. */
  run(dispatches: readonly Dispatch[]): void {
    this.assertUsable();
    if (dispatches.length === 0) return;
    dispatches.forEach((d) => this.checkDispatch(d)); // before any error scope is pushed
    for (const d of dispatches) {
      const compile = this.compileChecks.get(d.pipeline);
      if (compile) this.pending.push(compile);
    }
    const block = this.uniformBlock(dispatches);
    const groups = dispatches.map((d, i) => {
      this.pushScopes();
      const group = this.bindGroup(d, block?.slices[i]);
      this.popScopes(d.kernel, `binding the buffers of ${d.kernel}`);
      return group;
    });
    this.pushScopes();
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatches.forEach((d, i) => {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, groups[i]!);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
    });
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    const kernels = [...new Set(dispatches.map((d) => d.kernel))].join(', ');
    this.popScopes(kernels, `running ${kernels}`);
    if (block) this.destroyBuffer(block.buffer); // safe: WebGPU keeps it alive for the submitted work
  }

  /**
   * Throw a LimitError naming the kernel and the limit when a dispatch asks for more than the
   * device allows (WebGPU would only report it later, in less helpful words). Call it before
   * pushing error scopes: it throws synchronously.
   */
  checkDispatch(d: Dispatch): void {
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    for (const n of d.workgroups) {
      if (n !== undefined && (n > maxGroups || n < 0 || !Number.isInteger(n))) {
        throw new LimitError(`kernel '${d.kernel}': ${n} workgroups in one dimension (limit maxComputeWorkgroupsPerDimension = ${maxGroups})`);
      }
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    const align = this.limits.minStorageBufferOffsetAlignment;
    d.bindings.forEach((slice, i) => {
      if ('texture' in slice) return;
      const offset = slice.offset ?? 0;
      const size = slice.size ?? slice.buffer.size - offset;
      if (size > maxBinding) {
        throw new LimitError(
          `kernel '${d.kernel}': storage binding ${i + 1} is ${size} bytes, more than this device's maxStorageBufferBindingSize ` +
            `of ${maxBinding} bytes (bind the tensor in sub-ranges)`,
        );
      }
      if (offset % align !== 0) {
        throw new LimitError(`kernel '${d.kernel}': storage binding ${i + 1} starts at byte ${offset}, not a multiple of minStorageBufferOffsetAlignment (${align})`);
      }
    });
  }

  pushScopes(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  /** Pop the two scopes of `pushScopes`; their errors are thrown by the next `checkErrors`. */
  popScopes(kernel: string, what: string): PendingCheck {
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    const check = { kernel, what, errors: Promise.all([validation, memory]) };
    this.pending.push(check);
    return check;
  }

  /** Throw the first error raised by work issued so far, naming the kernel it came from. */
  async checkErrors(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const check of pending) {
      const errors = await Promise.race([check.errors, this.lostPromise]);
      const error = errors.find((e) => e !== null);
      if (error) {
        throw new KernelError(check.kernel, `${errorKind(error)} while ${check.what}: ${error.message}`);
      }
    }
    const stray = this.uncaptured[0];
    this.uncaptured = [];
    if (stray) throw new KernelError('(unscoped)', `${errorKind(stray)} in GPU work issued outside Tessera's error scopes: ${stray.message}`);
  }

  /** Wait until all submitted work has finished, and throw any error it raised. */
  async sync(): Promise<void> {
    this.assertUsable();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]);
    await this.checkErrors();
  }

  /** Release everything. The process can exit afterwards (Dawn keeps Node alive while a device lives). */
  destroy(): void {
    this.pool.trim();
    this.pipelines.clear();
    this.device.destroy();
  }
}
