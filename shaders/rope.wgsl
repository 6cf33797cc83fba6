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
// θ^(−2i/D) is computed as exp2(−2i/D · log2 θ), with log2 θ precomputed on the CPU.
// Angles reach the position (thousands of radians), beyond what WGSL's built-in sin and cos
// promise, so sin and cos come from the shared sincos snippet (shaders/lib/sincos.wgsl).
// The angle itself is f32, as in PyTorch: off by a few ulp of p·θ^(−2i/D), ≈ p·1e-7 rad.

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

#include "lib/sincos.wgsl"

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
  let inv_freq = exp2(-f32(i) / f32(params.half_dim) * params.log2_theta);
  let angle = f32(p) * inv_freq;
  let sc = sincos(angle);
  let v = x[q];
  out[q] = vec2<f32>(v.x * sc.y - v.y * sc.x, v.x * sc.x + v.y * sc.y);
}
