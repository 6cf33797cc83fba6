// Model files: checkpoint loaders and tokenizers (host-side, no GPU).
export { CheckpointError, TokenizerError } from './errors.ts';
export {
  bf16BitsToF32, f32ToBf16Bits, fetchSafetensors, loadSafetensors, parseSafetensors, SAFETENSORS_DTYPE_BYTES, SafetensorsFile,
  writeSafetensors, type SafetensorsDType, type SafetensorsEntry, type SafetensorsTensor,
} from './safetensors.ts';
export { loadExpectedTensors, matchCheckpoint, type CheckpointMatchOptions, type ExpectedTensor, type HostTensor, type TensorSource } from './checkpoint.ts';
export { fetchLlama2c, Llama2cCheckpoint, loadLlama2c, parseLlama2c, type Llama2cConfig } from './llama2c.ts';
export * from './tokenizers/index.ts';
export { gpt2, gpt2Config } from './gpt2.ts';
export { llama, llama2cLmConfig, llamaConfig, rotateHalfToAdjacent } from './llama.ts';
export type { KVCache, LmConfig, ModelFamily } from './decoder.ts';
export { generationConfigOf, parseGenerationConfig, type GenerationConfig } from './generation-config.ts';
export { LanguageModel, type LogitsOptions } from './lm.ts';
export type { LoadOptions, ModelBuffers } from './lm/loader.ts';
export type { GenerateOptions, GeneratedToken, TokenRange } from './lm/options.ts';
export { mulberry32, resolveSampling, sampleLogits, type SamplingSettings } from './lm/sampling.ts';
export * from './imagegen/index.ts';
export * from './vit/index.ts';
export * from './marian/index.ts';
