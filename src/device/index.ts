export { createDevice, Gpu, type BufferSlice, type TextureBinding, type CreateDeviceOptions, type Defines, type DeviceReport, type Dispatch } from './gpu.ts';
export { Tensor, type TensorRef } from './tensor.ts';
export { BYTES_PER_ELEMENT, f16BitsToF32, f32ToF16Bits, formatShape, fromF16Array, shapeSize, toF16Array, type DType, type HostArray } from './dtype.ts';
export { DeviceLostError, KernelError, LimitError, NoAdapterError, ShapeError, TesseraError, WebGPUUnavailableError } from './errors.ts';
export { BufferPool, sizeClass } from './pool.ts';
