/**
 * The errors users meet must say what went wrong, where, and what to do; and the device layer's
 * own bookkeeping (f16 conversion, buffer pool) must be exact.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../src/device/dtype.ts';
import { DeviceLostError, KernelError, LimitError, LINUX_NO_GPU_HELP, noAdapterMessage } from '../src/device/errors.ts';
import { createDevice, type Dispatch, type Gpu } from '../src/device/gpu.ts';
import { testDevice } from './util/gpu.ts';

/** out[i] = i * scale: a kernel small enough to read in one glance. */
const FILL_SHADER = /* wgsl */ `
struct Params { scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&out)) { out[id.x] = f32(id.x) * params.scale; }
}`;

/** Reads whole vec4 elements: a binding smaller than 16 bytes is invalid. */
const VEC4_SHADER = /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> data: array<vec4<f32>>;
@compute @workgroup_size(1)
fn main() { data[0] = data[0] + vec4<f32>(1.0); }`;

const BROKEN_SHADER = FILL_SHADER.replace('f32(id.x) * params.scale', 'f32(id.x) * params.scael');

function scale(value: number): ArrayBuffer {
  return new Float32Array([value, 0, 0, 0]).buffer;
}

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testDevice();
});
afterAll(() => gpu?.destroy());

describe('a kernel that runs fine', () => {
  test('fills its output (the harness below works)', async () => {
    const out = gpu.empty([100]);
    gpu.run([{ kernel: 'fill', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(2), bindings: [{ buffer: out.buffer, size: 400 }], workgroups: [2] }]);
    const got = await out.download();
    expect(got[99]).toBe(198);
    out.destroy();
  });
});

describe('shader compilation errors name the kernel and carry the compiler message', () => {
  test('gpu.pipeline + gpu.run: KernelError on sync()', async () => {
    const out = gpu.empty([64]);
    const dispatch: Dispatch = { kernel: 'broken_fill', pipeline: gpu.pipeline('broken_fill', BROKEN_SHADER), uniforms: scale(1), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [1] };
    gpu.run([dispatch]);
    const error = await gpu.sync().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as KernelError).kernel).toBe('broken_fill');
    expect((error as Error).message).toMatch(/broken_fill/);
    expect((error as Error).message).toMatch(/scael/); // the compiler's own words about the bad member
    out.destroy();
  });

  test('gpu.pipeline + gpu.run: KernelError on download(), never the uninitialised output', async () => {
    const out = gpu.empty([64]);
    gpu.run([{ kernel: 'broken_fill', pipeline: gpu.pipeline('broken_fill', BROKEN_SHADER), uniforms: scale(1), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [1] }]);
    await expect(out.download()).rejects.toThrow(/kernel 'broken_fill'.*scael/s);
    out.destroy();
  });

  test('gpu.pipelineAsync rejects with the kernel name and the compiler message', async () => {
    const error = await gpu.pipelineAsync('broken_async', BROKEN_SHADER).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as Error).message).toMatch(/kernel 'broken_async'/);
    expect((error as Error).message).toMatch(/scael/);
    await gpu.sync(); // and nothing is left over to fail the next, unrelated sync
  });
});

describe('validation errors are thrown with the kernel name, never silent zeros', () => {
  test('a binding smaller than the shader needs', async () => {
    const data = gpu.upload(new Float32Array(64));
    gpu.run([{ kernel: 'vec4_add', pipeline: gpu.pipeline('vec4_add', VEC4_SHADER), bindings: [{ buffer: data.buffer, size: 8 }], workgroups: [1] }]);
    await expect(data.download()).rejects.toThrow(KernelError);
    gpu.run([{ kernel: 'vec4_add', pipeline: gpu.pipeline('vec4_add', VEC4_SHADER), bindings: [{ buffer: data.buffer, size: 8 }], workgroups: [1] }]);
    await expect(gpu.sync()).rejects.toThrow(/kernel 'vec4_add'/);
    data.destroy();
  });

  test('a missing uniform block', async () => {
    const out = gpu.empty([64]);
    gpu.run([{ kernel: 'fill_without_uniforms', pipeline: gpu.pipeline('fill', FILL_SHADER), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [1] }]);
    await expect(out.download()).rejects.toThrow(/kernel 'fill_without_uniforms'/);
    out.destroy();
  });

  test('after an error, the next work runs normally', async () => {
    const out = gpu.empty([64]);
    gpu.run([{ kernel: 'fill', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(3), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [1] }]);
    expect((await out.download())[5]).toBe(15);
    out.destroy();
  });
});

describe('device limits are named', () => {
  test('a tensor bigger than maxBufferSize', () => {
    const elements = Math.floor(gpu.limits.maxBufferSize / 4) + 1024;
    expect(() => gpu.empty([elements])).toThrow(LimitError);
    expect(() => gpu.empty([elements])).toThrow(/maxBufferSize/);
  });

  test('binding more than maxStorageBufferBindingSize', async () => {
    const max = gpu.limits.maxStorageBufferBindingSize;
    const big = gpu.empty([max / 4 + 64]);
    const dispatch: Dispatch = { kernel: 'fill_big', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(1), bindings: [{ buffer: big.buffer, size: max + 256 }], workgroups: [1] };
    const error = await (async () => {
      gpu.run([dispatch]);
      await gpu.sync();
    })().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toMatch(/fill_big/);
    expect((error as Error).message).toMatch(/maxStorageBufferBindingSize/);
    big.destroy();
    await gpu.sync();
  });

  test('a storage binding at a misaligned offset', () => {
    const t = gpu.empty([1024]);
    const dispatch: Dispatch = { kernel: 'fill_misaligned', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(1), bindings: [{ buffer: t.buffer, offset: 4, size: 256 }], workgroups: [1] };
    expect(() => gpu.run([dispatch])).toThrow(/fill_misaligned.*minStorageBufferOffsetAlignment/);
    t.destroy();
  });

  test('too many workgroups in one dimension', async () => {
    const out = gpu.empty([64]);
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    const dispatch: Dispatch = { kernel: 'fill_wide', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(1), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [max + 1] };
    expect(() => gpu.run([dispatch])).toThrow(LimitError);
    expect(() => gpu.run([dispatch])).toThrow(/fill_wide.*maxComputeWorkgroupsPerDimension/);
    // The refused dispatch left no error scope or half-encoded pass behind.
    gpu.run([{ ...dispatch, kernel: 'fill', workgroups: [1] }]);
    expect((await out.download())[7]).toBe(7);
    out.destroy();
  });
});

describe('f16 tensors and conversions', () => {
  // [value, IEEE half bits]: exact values, rounding ties (to even), subnormals, overflow, specials.
  const known: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just below the midpoint to 65536: rounds down
    [65520, 0x7c00], // the midpoint: rounds (to even) up to infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal (odd) and the smallest normal (even)
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: to even, 0
    [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2: to even, 2
    [1.5 * 2 ** -25, 0x0001], // above the midpoint: rounds up
    [2 ** -26, 0x0000], // underflow
    [1 + 2 ** -11, 0x3c00], // tie between 1 (even) and 1 + 2^-10: down
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 1 + 2^-10 (odd) and 1 + 2^-9: up
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie: up
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e10, 0x7c00],
    [-1e-10, 0x8000],
  ];

  test.each(known)('f32ToF16Bits(%d) = %i', (value, bits) => {
    expect(f32ToF16Bits(value)).toBe(bits);
  });

  test('NaN stays NaN both ways', () => {
    const bits = f32ToF16Bits(NaN);
    expect((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0).toBe(true);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0xfc01)).toBeNaN();
  });

  test('f16BitsToF32 inverts f32ToF16Bits on every one of the 65536 patterns', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToF32(bits);
      if (Number.isNaN(value)) continue;
      expect(f32ToF16Bits(value)).toBe(bits);
    }
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(f16BitsToF32(0x8001)).toBe(-(2 ** -24));
    expect(f16BitsToF32(0xfbff)).toBe(-65504);
  });

  test('upload and download round-trip through the GPU, odd lengths included', async (context) => {
    if (!gpu.hasF16) return context.skip("this adapter has no 'shader-f16'");
    const values = [0, 1, -2.5, 65504, 1e-7, 2 ** -24, Infinity, -Infinity, 1 + 2 ** -11, 3.14159];
    for (const n of [1, 3, values.length]) {
      const t = gpu.upload(values.slice(0, n), [n], 'f16');
      expect(t.dtype).toBe('f16');
      const got = await t.download();
      expect(got).toBeInstanceOf(Float32Array);
      expect(Array.from(got)).toEqual(values.slice(0, n).map((v) => f16BitsToF32(f32ToF16Bits(v))));
      t.destroy();
    }
  });

  test('f16 views at a 2-byte offset read back the right elements', async (context) => {
    if (!gpu.hasF16) return context.skip("this adapter has no 'shader-f16'");
    const t = gpu.upload([1, 2, 3, 4, 5], [5], 'f16');
    const got = await gpu.readTensor({ buffer: t.buffer, offset: 2, shape: [3], dtype: 'f16' });
    expect(Array.from(got)).toEqual([2, 3, 4]);
    t.destroy();
  });
});

describe('the buffer pool', () => {
  test('re-creating a tensor of the same size reuses the released buffer', async () => {
    const first = gpu.upload(new Float32Array(1000).fill(1));
    await first.download();
    const before = gpu.allocatedBytes;
    first.destroy();
    for (let i = 0; i < 5; i++) {
      const again = gpu.upload(new Float32Array(1000).fill(i));
      expect((await again.download())[999]).toBe(i);
      again.destroy();
    }
    expect(gpu.allocatedBytes).toBe(before);
  });

  test('running kernels does not grow allocatedBytes (uniform blocks are freed)', async () => {
    const out = gpu.empty([64]);
    const dispatch: Dispatch = { kernel: 'fill', pipeline: gpu.pipeline('fill', FILL_SHADER), uniforms: scale(1), bindings: [{ buffer: out.buffer, size: 256 }], workgroups: [1] };
    gpu.run([dispatch]);
    await gpu.sync();
    const before = gpu.allocatedBytes;
    for (let i = 0; i < 10; i++) gpu.run([dispatch, dispatch]);
    await gpu.sync();
    expect(gpu.allocatedBytes).toBe(before);
    out.destroy();
  });
});

describe('no adapter', () => {
  test('the message tells Linux users how to install lavapipe', () => {
    const message = noAdapterMessage();
    expect(message).toContain(LINUX_NO_GPU_HELP);
    expect(message).toContain('apt-get install -y libvulkan1');
    expect(message).toContain('apt-get install -y -t bookworm-backports mesa-vulkan-drivers');
    expect(message).toMatch(/bookworm-backports/);
  });
});

describe('device lost', () => {
  test('pending and later work rejects with DeviceLostError, and nothing hangs', async () => {
    const lost = await createDevice();
    const out = lost.empty([1 << 16]);
    const dispatch: Dispatch = { kernel: 'fill', pipeline: lost.pipeline('fill', FILL_SHADER), uniforms: scale(1), bindings: [{ buffer: out.buffer }], workgroups: [1024] };
    lost.run([dispatch]);
    const pending = out.download();
    const pendingSync = lost.sync();
    lost.device.destroy();
    await expect(pending).rejects.toThrow(DeviceLostError);
    await expect(pendingSync).rejects.toThrow(DeviceLostError);
    await expect(lost.sync()).rejects.toThrow(DeviceLostError);
    expect(() => lost.upload([1, 2, 3])).toThrow(DeviceLostError);
    expect(() => lost.run([dispatch])).toThrow(DeviceLostError);
    expect(lost.isLost).toBe(true);
    lost.destroy(); // harmless after a loss
  }, 30_000);

  test('work issued right after the loss, before the lost promise settles, also rejects', async () => {
    const lost = await createDevice();
    const t = lost.upload([1, 2, 3]);
    lost.device.destroy();
    await expect(t.download()).rejects.toThrow(DeviceLostError);
    lost.destroy();
  }, 30_000);
});

describe('errors outside any kernel', () => {
  test('an invalid raw device call is still thrown by the next sync', async () => {
    const t = gpu.empty([4]);
    const encoder = gpu.device.createCommandEncoder();
    encoder.copyBufferToBuffer(t.buffer, 0, t.buffer, 0, 16); // source and destination overlap: invalid
    gpu.device.queue.submit([encoder.finish()]);
    await expect(gpu.sync()).rejects.toThrow(/unscoped.*ValidationError/);
    await gpu.sync();
    t.destroy();
  });
});
