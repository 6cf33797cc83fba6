// What decode_attention.wgsl and decode_attention_project.wgsl share: the new token's q and k
// pairs, read from the fused q|k|v row and turned by RoPE (lib/rope.wgsl) with ROPE. The
// including kernel defines HEAD_DIM and binds params (log2_theta) and qkv.

#include "lib/rope.wgsl"

// Pair i, (qkv[at + 2i], qkv[at + 2i + 1]), of the head row starting at qkv[at], turned by the
// angle p · θ^(−2i/D) (unchanged without ROPE).
fn rotated(at: u32, p: u32, i: u32) -> vec2<f32> {
  let pair = vec2<f32>(qkv[at + 2u * i], qkv[at + 2u * i + 1u]);
#if ${ROPE}
  return rope(pair, p, i, HEAD_DIM / 2u, params.log2_theta);
#else
  return pair;
#endif
}
