// Elementwise activation: out[i] = f(x[i]) for f in { gelu_tanh, gelu_erf, silu, relu }.
//
// One invocation per element; the 1-D launch is folded over x and y (at most 65535
// workgroups per dimension), so a row of the dispatch grid covers `row_stride` elements.
// The functions themselves are in shaders/lib/activation.wgsl, shared with the matmul epilogues.

#include "lib/activation.wgsl"

struct Params {
  count: u32,       // elements of x and out
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  out[i] = activation(x[i]);
}
