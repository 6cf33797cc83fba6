// The kernel library: each op's definition (for the graph runtime) and its eager wrapper.
export { add, binaryOp, mul, type BinaryAttrs } from './binary.ts';
export { attention, attentionOp, cachedAttention, MAX_HEAD_DIM as MAX_ATTENTION_HEAD_DIM, type AttentionAttrs } from './attention.ts';
export { matmul, matmulOp, type Activation, type MatmulAttrs, type MatmulOptions } from './matmul.ts';
export { cacheWrite, cacheWriteOp } from './cache-write.ts';
export { cacheGather, cacheGatherOp } from './cache-gather.ts';
export { layerNorm, layerNormOp, rmsNorm, rmsNormOp, type NormAttrs } from './layernorm.ts';
export { softmax, softmaxOp } from './softmax.ts';
export { gelu, geluErf, relu, silu, unary, unaryOp, type UnaryAttrs, type UnaryFn } from './unary.ts';
export { embedding, embeddingOp, type EmbeddingAttrs } from './embedding.ts';
export { rope, ropeOp, type RopeAttrs } from './rope.ts';
export { patchEmbed, patchEmbedOp, type PatchEmbedAttrs } from './patch-embed.ts';
export { classToken, classTokenOp } from './class-token.ts';
export { patchify, patchifyOp, type PatchifyAttrs } from './patchify.ts';
export { transposeHeads, transposeHeadsOp } from './transpose-heads.ts';
export { argmax, argmaxOp } from './argmax.ts';
export { topK, topKOp, type TopKAttrs } from './topk.ts';
export { qkvSplit, qkvSplitOp, type QkvSplitAttrs } from './qkv-split.ts';
export { swiglu, swigluOp } from './swiglu.ts';
export { advance, advanceOp } from './advance.ts';
export { fusedMatvec, fusedMatvecOp, type FusedMatvecAttrs } from './fused-matvec.ts';
export {
  llamaDecodeStep, llamaDecodeStepOp, llamaDecodeStepSize, LlamaStepTexture, llamaDecodeStepUnfit, packLlamaDecodeStepWeights,
  type LlamaDecodeStepAttrs, type LlamaStepShape, type LlamaStepWeights,
} from './llama-decode-step.ts';
export { detokenize, detokenizeOp, type DetokenizeAttrs } from './detokenize.ts';
export { upsample, upsampleOp, type UpsampleAttrs, type UpsampleMode } from './upsample.ts';
export { teachingMatmul, teachingMatmulOp, TEACHING_MATMUL_STEPS, type TeachingMatmulAttrs, type TeachingMatmulStep, type TeachingMatmulVersion } from './teaching-matmul.ts';
