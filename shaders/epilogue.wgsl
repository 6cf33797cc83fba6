// The activations fused into matmul epilogues (appended to matmul.wgsl and matvec.wgsl; one
// of GELU_TANH, GELU_ERF, SILU, RELU is set, or none for the identity).

fn activation(x: f32) -> f32 {
#if ${GELU_TANH}
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + tanh(clamp(u, -15.0, 15.0)));   // clamped: some tanh overflow to NaN
#elif ${GELU_ERF}
  return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
#elif ${SILU}
  return x / (1.0 + exp(-x));
#elif ${RELU}
  return max(x, 0.0);
#else
  return x;
#endif
}

#if ${GELU_ERF}
// WGSL has no erf. Numerical Recipes' erfc Chebyshev fit (relative error < 1.2e-7 for all x).
fn erf(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
             t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let erfc = t * exp(-z * z + poly);
  return select(erfc - 1.0, 1.0 - erfc, x >= 0.0);
}
#endif
