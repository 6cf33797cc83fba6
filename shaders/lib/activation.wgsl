// The activation functions, shared by the elementwise kernel (unary.wgsl) and the matmul
// epilogue (lib/epilogue.wgsl), which include this file. One of GELU_TANH, GELU_ERF,
// SILU, RELU is set (src/ops/activation.ts), or none for the identity.

#if ${GELU_ERF}
#include "lib/erf.wgsl"
#endif

fn activation(v: f32) -> f32 {
#if ${GELU_TANH}
  // 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))); tanh written with exp of a negative
  // argument so large |v| cannot overflow to inf/inf.
  let z = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  let e = exp(-2.0 * abs(z));
  let tanh_z = sign(z) * (1.0 - e) / (1.0 + e);
  return 0.5 * v * (1.0 + tanh_z);
#elif ${GELU_ERF}
  return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
#elif ${SILU}
  return v / (1.0 + exp(-v));
#elif ${RELU}
  return max(v, 0.0);
#else
  return v;
#endif
}
