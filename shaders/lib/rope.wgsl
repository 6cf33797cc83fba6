// rope(xy, p, i, half_dim, log2_theta): the pair xy = (x[2i], x[2i+1]) of a head of
// D = 2·half_dim dimensions, turned by the rotary angle p · θ^(−2i/D) (Llama's adjacent pairs):
//   (x[2i] · cos − x[2i+1] · sin,  x[2i] · sin + x[2i+1] · cos).
// θ^(−2i/D) is exp2(−2i/D · log2 θ), with log2 θ precomputed on the CPU. The angle is f32, as in
// PyTorch (off by a few ulp of p·θ^(−2i/D), ≈ p·1e-7 rad); it reaches the position, thousands of
// radians, beyond what WGSL's built-in sin and cos promise, so they come from lib/sincos.wgsl.
// Used by rope.wgsl, qkv_split.wgsl, decode_attention*.wgsl and llama_decode_step.wgsl.

#include "lib/sincos.wgsl"

fn rope(xy: vec2<f32>, p: u32, i: u32, half_dim: u32, log2_theta: f32) -> vec2<f32> {
  let sc = sincos(f32(p) * exp2(-f32(i) / f32(half_dim) * log2_theta));
  return vec2<f32>(xy.x * sc.y - xy.y * sc.x, xy.x * sc.x + xy.y * sc.y);
}
