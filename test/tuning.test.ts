// The tuning profile: which profile an adapter gets, how limits and overrides shape it, and that on
// this machine (lavapipe) it holds exactly the values the kernels used before it existed.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice, type Gpu } from '../src/device/gpu.ts';
import { cpuRasterizerProfile, gpuProfile, isCpuRasterizer, tuningProfileFor, type TuningLimits } from '../src/device/tuning.ts';
import { matmulOp } from '../src/ops/matmul.ts';
import { judge } from './kernels/case.ts';
import { allCases } from './kernels/index.ts';
import { testDevice } from './util/gpu.ts';

const roomy: TuningLimits = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024 };
const subgroups = ['shader-f16', 'subgroups'];

describe('the profile an adapter gets', () => {
  test.each([
    [{ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1' }, 'cpu-rasterizer'],
    [{ vendor: 'mesa', description: 'Lavapipe' }, 'cpu-rasterizer'],
    [{ vendor: 'google', architecture: '', description: 'SwiftShader Device (Subzero)' }, 'cpu-rasterizer'],
    [{ vendor: 'unknown', description: '', isFallbackAdapter: true }, 'cpu-rasterizer'],
    [{ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }, 'gpu'],
    [{ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }, 'gpu'],
    [{ vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' }, 'gpu'],
    [{ vendor: 'intel', architecture: 'gen-12lp', description: 'Mesa Intel(R) UHD Graphics 770 (ADL-S GT1)' }, 'gpu'],
  ] as const)('%o → %s', (adapter, kind) => {
    expect(isCpuRasterizer(adapter)).toBe(kind === 'cpu-rasterizer');
    const profile = tuningProfileFor(adapter, [], roomy);
    expect(profile.kind).toBe(kind);
    expect(profile.decodeAttention).toEqual((kind === 'gpu' ? gpuProfile : cpuRasterizerProfile).decodeAttention);
  });

  test('the subgroup size is filled in only when it is fixed and subgroups are on', () => {
    const nvidia = { vendor: 'nvidia', description: 'NVIDIA H100' };
    expect(tuningProfileFor({ ...nvidia, subgroupMinSize: 32, subgroupMaxSize: 32 }, subgroups, roomy).subgroupSize).toBe(32);
    expect(tuningProfileFor({ ...nvidia, subgroupMinSize: 32, subgroupMaxSize: 32 }, ['shader-f16'], roomy).subgroupSize).toBeNull();
    expect(tuningProfileFor({ ...nvidia, subgroupMinSize: 8, subgroupMaxSize: 32 }, subgroups, roomy).subgroupSize).toBeNull();
    expect(tuningProfileFor(nvidia, subgroups, roomy).subgroupSize).toBeNull();
  });
});

describe('limits and overrides', () => {
  test('workgroup sizes are clamped to powers of two within the device limits', () => {
    const small = { maxComputeInvocationsPerWorkgroup: 96, maxComputeWorkgroupSizeX: 96, maxComputeWorkgroupSizeY: 96 };
    const p = tuningProfileFor({ vendor: 'amd', subgroupMinSize: 32, subgroupMaxSize: 32 }, subgroups, small);
    expect(p.elementwise.workgroup).toBe(64);
    expect(p.rowReductions.workgroup).toBe(64);
    expect(p.llamaDecodeStep.threads).toBe(64);
    expect(p.fusedMatvec.workgroup).toBe(64);
    expect(p.decodeAttention).toEqual({ threads: 64, projectThreads: 32 });
    expect(p.matmul.rowBlocks).toBe(2); // 32 lanes per row block
    expect(p.patchEmbed.tile).toBe(8); // 8 × 8 ≤ 96
    expect(p.llamaDecodeStep.maxWeights).toBe(gpuProfile.llamaDecodeStep.maxWeights); // not a workgroup size
  });

  test('overrides replace single values, can force a profile, and are clamped too', () => {
    const lavapipe = { description: 'llvmpipe', subgroupMinSize: 8, subgroupMaxSize: 8 };
    const p = tuningProfileFor(lavapipe, subgroups, roomy, { kind: 'gpu', subgroupSize: null, matvec: { maxM: 0 }, matmul: { rowBlocks: 512 } });
    expect(p.kind).toBe('gpu');
    expect(p.subgroupSize).toBeNull();
    expect(p.matvec).toEqual({ maxM: 0, maxRows: gpuProfile.matvec.maxRows });
    expect(p.matmul.rowBlocks).toBe(128); // 128 blocks of 8 lanes fill 1024 invocations
    expect(p.attention).toEqual(gpuProfile.attention);
    expect(cpuRasterizerProfile.matvec.maxM).toBe(16); // the shared profiles are not modified
  });
});

describe('on this machine', () => {
  let gpu: Gpu;
  let tuned: Gpu;
  beforeAll(async () => {
    gpu = await testDevice();
    tuned = await createDevice({ tuning: { subgroupSize: null, matvec: { maxM: 0 }, matmul: { rowBlocks: 1 } } });
  });
  afterAll(() => {
    gpu?.destroy();
    tuned?.destroy();
  });

  test('lavapipe gets the CPU-rasterizer profile, holding the values the kernels used before', (ctx) => {
    if (!isCpuRasterizer(gpu.report.adapter)) ctx.skip(); // a real GPU gets its own profile
    const { kind, subgroupSize, ...groups } = gpu.tuning;
    expect(kind).toBe('cpu-rasterizer');
    expect(subgroupSize).toBe(gpu.hasSubgroups ? 8 : null);
    expect(groups).toEqual({
      elementwise: { workgroup: 256, imageWorkgroup: 64 },
      matmul: { rowBlocks: 4 },
      matvec: { maxM: 16, maxRows: 8 },
      fusedMatvec: { workgroup: 8 },
      patchEmbed: { tile: 16 },
      rowReductions: { workgroup: 256, streamMaxPerLane: 128, streamPerLane: 16, heldPerLane: 8 },
      attention: { blockQ: 64, maxBlockK: 64, maxDecodeThreads: 64 },
      decodeAttention: { threads: 16, projectThreads: 8 },
      llamaDecodeStep: { threads: 32, maxWeights: 4 * 1024 * 1024 },
    });
    expect(groups).toEqual(cpuRasterizerProfile);
    expect(gpu.broadcastLanes).toBe(subgroupSize);
  });

  test("createDevice's override reaches the kernels the ops choose", async () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = Array.from({ length: 8 * 3 }, (_, i) => (i % 5) - 2);
    const want = [0, 1, 2].map((n) => a.reduce((sum, x, k) => sum + x * b[k * 3 + n]!, 0));
    for (const [device, kernel] of [[gpu, 'matvec1_b_scalar'], [tuned, 'matmul_b_scalar']] as const) {
      const ta = device.upload(a, [1, 8]), tb = device.upload(b, [8, 3]), out = device.empty([1, 3]);
      const dispatches = matmulOp.plan(device, { a: ta, b: tb }, { out }, {}, {});
      expect(dispatches.map((d) => d.kernel)).toEqual([kernel]);
      device.run(dispatches);
      expect([...(await device.readTensor(out))]).toEqual(want);
      for (const t of [ta, tb, out]) t.destroy();
    }
    expect(tuned.broadcastLanes).toBeNull();
  });
});

// The GPU profile is not measured here, but its kernels must still be right: forced on this
// adapter, the ops whose choices it changes agree with the CPU reference.
describe('kernels under the GPU profile (forced on this adapter)', () => {
  let gpuProfiled: Gpu;
  beforeAll(async () => {
    gpuProfiled = await createDevice({ tuning: { kind: 'gpu' } });
  });
  afterAll(() => gpuProfiled?.destroy());

  // One llamaDecodeStep case (greedy, tied, grouped heads): with 256 invocations it is slow here when the machine is busy.
  const picked = allCases.filter((c) => /^(fusedMatvec|decodeAttention|decodeAttentionProject|detokenize|upsample)\/|^llamaDecodeStep\/greedy×3\//.test(c.name));
  test('the selection covers every op the GPU profile retunes', () => expect(picked.length).toBeGreaterThanOrEqual(10));
  for (const c of picked) {
    test(c.name, async () => {
      expect(gpuProfiled.tuning.kind).toBe('gpu');
      const { got, want } = await c.run(gpuProfiled);
      const verdict = judge(c, got, want);
      expect(verdict.ok, verdict.message).toBe(true);
    });
  }
});
