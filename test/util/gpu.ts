import { createDevice, type Gpu } from '../../src/device/gpu.ts';

/** One device per test file; destroyed in afterAll so Dawn lets the worker exit. */
export async function testDevice(): Promise<Gpu> {
  return createDevice();
}
