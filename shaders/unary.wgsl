// Elementwise activation: out[i] = f(x[i]) for f in { gelu_tanh, gelu_erf, silu, relu }.
//
// One invocation per element; the 1-D launch is folded over x and y (at most 65535
// workgroups per dimension), so a row of the dispatch grid covers `row_stride` elements.
// gelu_erf uses the shared erf snippet (shaders/lib/erf.wgsl), pasted in
// where the ERF hole stands below.

struct Params {
  count: u32,       // elements of x and out
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

${ERF}

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
#endif
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  out[i] = activation(x[i]);
}
