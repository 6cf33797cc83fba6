import type { Defines } from '../device/gpu.ts';
import activationWgsl from '../../shaders/lib/activation.wgsl';
import erfSource from '../../shaders/lib/erf.wgsl';

export type Activation = 'none' | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'relu';

/**
 * WGSL source of `fn activation(v: f32) -> f32`, to append to a kernel that calls it. Declared as
 * a `string` so the emitted .d.ts names no `.wgsl` module (a package consumer could not resolve one).
 */
export const activationSource: string = activationWgsl;

/** The defines that select `activation` in shaders/lib/activation.wgsl. */
export function activationDefines(activation: Activation): Defines {
  return {
    ERF: activation === 'gelu_erf' ? erfSource : '',
    GELU_TANH: activation === 'gelu_tanh',
    GELU_ERF: activation === 'gelu_erf',
    SILU: activation === 'silu',
    RELU: activation === 'relu',
  };
}
