/**
 * The tuning profile: every performance choice a kernel makes (workgroup sizes, tile sizes, the
 * batch size at which one kernel hands over to another) in one place, chosen from the adapter.
 *
 * A CPU rasterizer (Mesa's lavapipe/llvmpipe, SwiftShader) runs a workgroup's invocations as
 * coroutines on a few cores: it pays for every workgroup and every barrier, and wants few, fat
 * workgroups that share loads across one narrow subgroup. A GPU wants the opposite: many threads per
 * workgroup, and barriers are cheap. The values below say where they were measured; values that
 * keep a kernel correct (register caps such as attention's MAX_HEAD_DIM, WGSL limits) are not
 * tuning and stay next to their kernels. Still constants in the models, to move here once lm.ts is
 * split: lm.ts's prefill and decode chunk sizes and ADVANCE_ARGMAX_MAX_VOCAB, llama.ts's FUSED_MAX_K.
 *
 * Ops read `gpu.tuning` when they plan their dispatches, so a profile (or an override given to
 * `createDevice`) changes the kernels compiled from then on.
 */

/** What a profile is picked from: the adapter's info as WebGPU reports it. */
export interface AdapterDescription {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** The limits a profile is clamped to. */
export interface TuningLimits {
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
}

export interface TuningProfile {
  /** Which profile the values started from. */
  kind: 'cpu-rasterizer' | 'gpu';
  /**
   * The adapter's subgroup size when it is fixed (min = max) and the 'subgroups' feature is on,
   * else null. Kernels that broadcast loads across a subgroup need it exactly.
   */
  subgroupSize: number | null;
  /** One invocation per element: add/mul, unary, rope, embedding, swiglu, cache and layout copies. */
  elementwise: {
    workgroup: number;
    /** The image generator's pixel kernels (detokenize, upsample). */
    imageWorkgroup: number;
  };
  /** The register-tiled matmul kernel (shaders/matmul.wgsl). */
  matmul: {
    /** 16-row blocks per workgroup; the blocks share b's panel from cache. */
    rowBlocks: number;
  };
  /** The matrix-vector kernel (shaders/matvec.wgsl), for matmuls with few rows. */
  matvec: {
    /** Largest M that runs the matrix-vector kernel instead of the tiled one. */
    maxM: number;
    /** Most rows of a one workgroup applies each loaded weight to (1, 2, 4 or 8). */
    maxRows: number;
  };
  /** The decode-time matvec with a fused RMSNorm or SwiGLU prologue (shaders/fused_matvec.wgsl). */
  fusedMatvec: {
    /** Invocations per workgroup, 4 output columns each. */
    workgroup: number;
  };
  /** ViT's patch embedding (shaders/patch_embed.wgsl): TILE × TILE outputs per workgroup. */
  patchEmbed: {
    tile: number;
  };
  /** layernorm, rmsnorm, softmax, argmax, topk (src/ops/row-tiling.ts). */
  rowReductions: {
    /** Invocations per workgroup when a workgroup holds several rows. */
    workgroup: number;
    /** Softmax, argmax, topk (the row streams through registers): items per lane up to which one subgroup takes a row. */
    streamMaxPerLane: number;
    /** ... and items per lane aimed for when a row spreads over a workgroup. */
    streamPerLane: number;
    /** layernorm, rmsnorm (the row is held in registers): items per lane aimed for when a row spreads over a workgroup. */
    heldPerLane: number;
  };
  /** The online-softmax attention kernels (shaders/attention.wgsl, attention-decode.wgsl). */
  attention: {
    /** Query rows per prefill workgroup, one invocation each. */
    blockQ: number;
    /** Keys per workgroup-memory tile at most (fewer when long heads would not fit). */
    maxBlockK: number;
    /** Invocations splitting the keys of one decode query, at most (fewer when workgroup memory is short). */
    maxDecodeThreads: number;
  };
  /** Decode-time attention that also writes the cache (shaders/decode_attention*.wgsl). */
  decodeAttention: {
    /** Invocations splitting the keys (flash-decoding). */
    threads: number;
    /** Invocations of the attention + output projection kernel, each taking whole heads. */
    projectThreads: number;
  };
  /** The whole small-Llama decode step in one workgroup (shaders/llama_decode_step.wgsl). */
  llamaDecodeStep: {
    threads: number;
    /** Largest packed weight count for which the one-dispatch step beats the multi-dispatch path. */
    maxWeights: number;
  };
}

type Groups = Omit<TuningProfile, 'kind' | 'subgroupSize'>;

/**
 * Mesa's lavapipe (llvmpipe behind Vulkan): 2 cores, 8-wide subgroups, Mesa 25.0.7, LLVM 15, 256-bit
 * vectors; this project's machine, November 2026 (the commits that introduced each kernel). A
 * "measured" comment gives the figure that was recorded; "chosen" means the value was reasoned
 * from how lavapipe runs workgroups and no sweep was recorded, so it is the first to re-measure.
 */
export const cpuRasterizerProfile: Readonly<Groups> = {
  elementwise: {
    // Chosen: bandwidth-bound, any size that fills the 8-wide subgroups will do.
    workgroup: 256,
    // Chosen with the image generator's kernels (detokenize, upsample).
    imageWorkgroup: 64,
  },
  matmul: {
    // Measured (bench/kernels.ts): 4 blocks ran 1.5× faster than 1 (b's panel reused from cache).
    rowBlocks: 4,
  },
  matvec: {
    // Measured (bench/kernels.ts shapes): as fast as the tiled kernel or faster (up to 1.5×) for
    // M ≤ 8, and about 2× faster for 8 < M ≤ 16 (2 row groups against one 32-row block of the tiled kernel).
    maxM: 16,
    // The kernel's widest variant: each weight read serves 8 rows.
    maxRows: 8,
  },
  fusedMatvec: {
    // Chosen: one 8-wide subgroup, so the kernel's barrier switches no coroutines.
    workgroup: 8,
  },
  patchEmbed: {
    // Chosen: 16 × 16 = 256 invocations, like the element-wise kernels.
    tile: 16,
  },
  rowReductions: {
    // Measured (bench/kernels.ts): 256 gave 1.5× the throughput of 64 for 1024×768 layernorm
    // (lavapipe pays per workgroup).
    workgroup: 256,
    // Chosen with the row-reduction rewrite that made them 10-100× faster on lavapipe: a subgroup
    // per row, without any barrier, up to 8 · 128 items; beyond, a workgroup with ~16 items per lane.
    streamMaxPerLane: 128,
    streamPerLane: 16,
    // Chosen likewise for layernorm and rmsnorm rows (held in registers, so fewer per lane).
    heldPerLane: 8,
  },
  attention: {
    // Chosen when the online-softmax kernels were written (the usual flash-attention sizes);
    // no other sizes were recorded.
    blockQ: 64,
    maxBlockK: 64,
    maxDecodeThreads: 64,
  },
  decodeAttention: {
    // Measured (LM decode): a workgroup's invocations run as coroutines through each barrier, so
    // 16 cost a third of 64, and one decode step has little work to share anyway.
    threads: 16,
    // Chosen: one 8-wide subgroup, so the kernel's one barrier switches no coroutines.
    projectThreads: 8,
  },
  llamaDecodeStep: {
    // Chosen: lavapipe runs 8 invocations at a time and switches between those groups at every
    // barrier; 32 keeps that cheap while every projection still has rows for all invocations.
    threads: 32,
    // Chosen: the step runs on one core, so beyond a few million parameters the multi-dispatch
    // path, which spreads each projection over every core, is the faster one.
    maxWeights: 4 * 1024 * 1024,
  },
};

/**
 * Discrete and integrated GPUs. NOT YET MEASURED ON A GPU HERE: these are the usual starting points
 * (wide workgroups, cheap barriers, many workgroups in flight), to be replaced by measured values.
 */
export const gpuProfile: Readonly<Groups> = {
  elementwise: { workgroup: 256, imageWorkgroup: 256 },
  matmul: { rowBlocks: 4 },
  // The tiled kernel keeps a GPU's cores busier from fewer rows than on a CPU.
  matvec: { maxM: 8, maxRows: 8 },
  fusedMatvec: { workgroup: 64 },
  patchEmbed: { tile: 16 },
  rowReductions: { workgroup: 256, streamMaxPerLane: 128, streamPerLane: 16, heldPerLane: 8 },
  attention: { blockQ: 64, maxBlockK: 64, maxDecodeThreads: 64 },
  // Barriers are cheap on a GPU: split decode work over more invocations.
  decodeAttention: { threads: 64, projectThreads: 32 },
  // One workgroup runs on one of many compute units: the multi-dispatch path wins much sooner.
  llamaDecodeStep: { threads: 256, maxWeights: 1024 * 1024 },
};

/** Changes to the chosen profile, for tests and benchmarks; every value is still clamped to the limits. */
export type TuningOverrides = {
  /** Start from this profile instead of the one the adapter picks. */
  kind?: TuningProfile['kind'];
  /** null: behave as if the subgroup size were not fixed (the kernels without subgroup broadcasts). */
  subgroupSize?: null;
} & { [G in keyof Groups]?: Partial<Groups[G]> };

/** Mesa's lavapipe and llvmpipe, and Google's SwiftShader, rasterize on the CPU. */
export function isCpuRasterizer(adapter: AdapterDescription): boolean {
  const text = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].join(' ').toLowerCase();
  return /lavapipe|llvmpipe|swiftshader/.test(text) || adapter.isFallbackAdapter === true;
}

const pow2Floor = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * The profile for an adapter: the CPU-rasterizer or the GPU values, with the adapter's subgroup
 * size filled in and every workgroup size brought within the device's limits.
 */
export function tuningProfileFor(
  adapter: AdapterDescription,
  features: Iterable<string>,
  limits: TuningLimits,
  overrides: TuningOverrides = {},
): TuningProfile {
  const kind = overrides.kind ?? (isCpuRasterizer(adapter) ? 'cpu-rasterizer' : 'gpu');
  const base = kind === 'cpu-rasterizer' ? cpuRasterizerProfile : gpuProfile;
  const p = {} as Groups;
  for (const group of Object.keys(base) as (keyof Groups)[]) {
    (p as Record<string, object>)[group] = { ...base[group], ...overrides[group] };
  }
  const size = adapter.subgroupMinSize ?? 0;
  const fixed = [...features].includes('subgroups') && size > 0 && adapter.subgroupMaxSize === size;
  const subgroupSize = overrides.subgroupSize === null || !fixed ? null : size;

  // Workgroup sizes are powers of two within maxComputeInvocationsPerWorkgroup and maxComputeWorkgroupSizeX.
  const invocations = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const fit = (n: number, max = invocations) => Math.min(pow2Floor(n), pow2Floor(max));
  p.elementwise.workgroup = fit(p.elementwise.workgroup);
  p.elementwise.imageWorkgroup = fit(p.elementwise.imageWorkgroup);
  const matmulLanes = subgroupSize !== null && subgroupSize >= 8 ? subgroupSize : 8; // see ops/matmul.ts
  p.matmul.rowBlocks = Math.max(1, fit(p.matmul.rowBlocks, invocations / matmulLanes));
  p.matvec.maxRows = fit(p.matvec.maxRows, 8); // the kernel has variants for 1, 2, 4 and 8 rows
  p.fusedMatvec.workgroup = fit(p.fusedMatvec.workgroup);
  p.patchEmbed.tile = fit(p.patchEmbed.tile, Math.min(Math.sqrt(limits.maxComputeInvocationsPerWorkgroup), limits.maxComputeWorkgroupSizeY));
  p.rowReductions.workgroup = fit(p.rowReductions.workgroup);
  p.attention.blockQ = fit(p.attention.blockQ);
  p.attention.maxDecodeThreads = fit(p.attention.maxDecodeThreads);
  p.decodeAttention.threads = fit(p.decodeAttention.threads);
  p.decodeAttention.projectThreads = fit(p.decodeAttention.projectThreads);
  p.llamaDecodeStep.threads = fit(p.llamaDecodeStep.threads);
  return { kind, subgroupSize, ...p };
}
