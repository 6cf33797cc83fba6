/**
 * The small-Llama decode step as one kernel (ops/llama-decode-step.ts): whether a model uses it,
 * its packed weights, and its node in a decode graph. The model asks `llamaStepFor` once at load
 * and passes what it returns to `llamaStepNode` when it builds a decode graph; nothing else knows
 * how the step is packed, so this choice can move into a compiler pass without touching the model.
 */

import type { Gpu } from '../../device/gpu.ts';
import type { GraphBuilder } from '../../graph/builder.ts';
import type { Value } from '../../graph/graph.ts';
import { llamaDecodeStepOp, llamaDecodeStepUnfit, LlamaStepTexture, packLlamaDecodeStepWeights, type LlamaDecodeStepAttrs } from '../../ops/llama-decode-step.ts';
import type { HostTensor } from '../checkpoint.ts';
import type { LmConfig } from '../decoder.ts';

/** The step's packed weights (uploaded) and shape: the attributes of its node. */
export type LlamaStep = LlamaDecodeStepAttrs;

/**
 * The one-kernel step of a Llama model, its weights packed and uploaded, when `enabled` and the
 * model fits the kernel's limits; else null (the per-layer decode graph is used).
 */
export function llamaStepFor(gpu: Gpu, config: LmConfig, weights: ReadonlyMap<string, HostTensor>, enabled: boolean): LlamaStep | null {
  if (config.family !== 'llama' || !enabled || llamaDecodeStepUnfit(gpu, config) !== null) return null;
  const w = (name: string) => weights.get(name)!.data;
  const layers = Array.from({ length: config.numLayers }, (_, i) => ({
    attnNorm: w(`${i}.attn_norm`), qkv: w(`${i}.qkv`), o: w(`${i}.o`), mlpNorm: w(`${i}.mlp_norm`), gateUp: w(`${i}.gate_up`), down: w(`${i}.down`),
  }));
  const packed = packLlamaDecodeStepWeights(config, { embed: w('embed'), layers, norm: w('norm'), classifier: w('lm_head') });
  return { weights: LlamaStepTexture.upload(gpu, packed), shape: config };
}

/** The step's inputs: the whole KV cache (every layer), the token and its position. */
export interface LlamaStepInputs {
  kCache: Value;
  vCache: Value;
  ids: Value;
  position: Value;
}

/**
 * The step as a graph node; it returns the logits [1, V]. Given `greedy` (the valid cache rows,
 * the history and an input 'steps') it also takes the argmax and advances, a chunk of steps in
 * one dispatch (the chosen ids are in the history; the logits are then the last step's).
 */
export function llamaStepNode(g: GraphBuilder, step: LlamaStep, inputs: LlamaStepInputs, greedy?: { kvLength: Value; history: Value; steps: Value }): Value {
  return g.apply(llamaDecodeStepOp, { ...inputs, ...greedy }, step, 'decode_step').logits!;
}
