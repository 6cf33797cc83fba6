// Rotary position embedding, Llama convention: within each head, the adjacent pair
// (x[2i], x[2i+1]) is rotated by the angle p · θ^(−2i/D), where p = offset + t is the
// token's position and D the head dimension:
//   out[2i]   = x[2i] · cos − x[2i+1] · sin
//   out[2i+1] = x[2i] · sin + x[2i+1] · cos
//
// Layout: x and out are [B, T, H·D] row-major (heads side by side in each token's row),
// position u32 [1] holds the dynamic offset (the number of tokens already in the KV cache).
// One invocation per pair: pair index q = ((b·T + t)·H + h)·(D/2) + i; the 1-D launch is
// folded over x and y, a row of the grid covering `row_stride` pairs.
// The rotation itself, shared with the fused kernels that turn q and k, is lib/rope.wgsl
// (θ^(−2i/D) as exp2(−2i/D · log2 θ); accurate sin and cos of angles in the thousands).

struct Params {
  pairs: u32,           // B·T·H·D/2
  tokens: u32,          // T
  half_dim: u32,        // D/2
  heads: u32,           // H
  row_stride: u32,      // pairs covered by one row of the dispatch grid
  log2_theta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;
#if ${DYNAMIC_OFFSET}
@group(0) @binding(3) var<storage, read> position: array<u32>;
#endif

#include "lib/rope.wgsl"

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.y * params.row_stride + gid.x;
  if (q >= params.pairs) { return; }
  let i = q % params.half_dim;
  let t = (q / (params.half_dim * params.heads)) % params.tokens;
#if ${DYNAMIC_OFFSET}
  let p = position[0] + t;
#else
  let p = t;
#endif
  out[q] = rope(x[q], p, i, params.half_dim, params.log2_theta);
}
