/** Errors a user of Tessera can meet, each saying what went wrong and what to do. */

export class TesseraError extends Error {
  override name = 'TesseraError';
}

/** No `navigator.gpu` and no `webgpu` package: this JavaScript runtime cannot do WebGPU at all. */
export class WebGPUUnavailableError extends TesseraError {
  override name = 'WebGPUUnavailableError';
}

/** WebGPU exists but `requestAdapter()` found no adapter. */
export class NoAdapterError extends TesseraError {
  override name = 'NoAdapterError';
}

/** The device was lost (driver reset, `destroy()`, out of memory): all pending and later work fails with this. */
export class DeviceLostError extends TesseraError {
  override name = 'DeviceLostError';
}

/** A WebGPU validation or out-of-memory error, attributed to the kernel that caused it. */
export class KernelError extends TesseraError {
  override name = 'KernelError';
  constructor(readonly kernel: string, message: string) {
    super(`kernel '${kernel}': ${message}`);
  }
}

/** A tensor or request exceeds a device limit (buffer size, binding size, workgroup storage). */
export class LimitError extends TesseraError {
  override name = 'LimitError';
}

/** Shapes or dtypes that do not fit together. */
export class ShapeError extends TesseraError {
  override name = 'ShapeError';
}

export const LINUX_NO_GPU_HELP =
  'On Linux without a GPU, install Mesa lavapipe (CPU Vulkan) version 25 or newer: on Debian 12 add the ' +
  "'bookworm-backports' suite to apt's sources, then run " +
  '`apt-get install -y libvulkan1 && apt-get install -y -t bookworm-backports mesa-vulkan-drivers` ' +
  '(Mesa 22 from plain bookworm offers no WebGPU adapter).';

/** What `createDevice()` says when WebGPU offers no adapter. */
export function noAdapterMessage(): string {
  return 'WebGPU found no adapter. Install or update a GPU driver with Vulkan, Metal or D3D12 support. ' + LINUX_NO_GPU_HELP;
}
