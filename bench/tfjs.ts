// TensorFlow.js's WebGPU backend on the same Dawn instance and adapter as Tessera, for the
// side-by-side benchmarks. Importing this module sets it up and makes it the active backend.
import { create, globals } from 'webgpu';

// One Dawn instance for both engines. It must stay referenced while devices live, or Dawn crashes.
Object.assign(globalThis, globals);
export const gpuApi = create([]);
(globalThis as { navigator?: object }).navigator = { gpu: gpuApi };
// Imported only now: the WebGPU backend registers itself only if it finds navigator.gpu.
export const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');

tf.env().set('WEBGPU_CPU_FORWARD', false); // keep every tfjs op on the GPU
await tf.setBackend('webgpu');
await tf.ready();
