import type { Defines } from '../device/gpu.ts';

export type Activation = 'none' | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'relu';

/** The defines that select `activation` in shaders/lib/activation.wgsl (which a kernel includes). */
export function activationDefines(activation: Activation): Defines {
  return {
    GELU_TANH: activation === 'gelu_tanh',
    GELU_ERF: activation === 'gelu_erf',
    SILU: activation === 'silu',
    RELU: activation === 'relu',
  };
}
