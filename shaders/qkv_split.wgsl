// Split a fused q|k|v projection, rotate q and k (RoPE, optional), and append k and v to the
// KV caches, all in one dispatch: the step between an attention block's input projection and
// its attention kernel.
//
// Layout: qkv [B, T, (H + 2·KVH)·D], each row holding q (H heads), then k (KVH heads), then v
// (KVH heads), as one matmul against the concatenated weights [Wq; Wk; Wv] produces it.
// q_out is [B, T, H·D]; k_cache and v_cache are [B, capacity, KVH·D] states, and token t of
// this call lands in cache row position[0] + t (rows past the capacity are dropped).
//
// One invocation per adjacent pair (2i, 2i+1) of a row of qkv: pair p of token n = b·T + t
// covers elements 2p, 2p+1 of that row. Pairs never straddle a head (D is even), so each
// pair is all q, all k or all v. With ROPE, q and k pairs are rotated by the angle
// (position[0] + t) · θ^(−2i/D), i the pair's index within its head (Llama's adjacent-pair
// convention, as rope.wgsl); v is copied as it is.

struct Params {
  pairs: u32,       // B·T·(H + 2·KVH)·D/2
  tokens: u32,      // T
  row_pairs: u32,   // (H + 2·KVH)·D/2: pairs per token
  q_pairs: u32,     // H·D/2: the first q_pairs pairs of a row are q
  kv_pairs: u32,    // KVH·D/2: then k, then v
  half_dim: u32,    // D/2
  capacity: u32,    // cache rows per batch entry
  row_stride: u32,  // pairs covered by one row of the dispatch grid
  log2_theta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> position: array<u32>;
@group(0) @binding(3) var<storage, read_write> q_out: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<vec2<f32>>;

// rope(xy, p, i, D/2, log2 θ): a pair turned by the rotary angle p · θ^(−2i/D).
#include "lib/rope.wgsl"

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.y * params.row_stride + gid.x;
  if (p >= params.pairs) { return; }
  let token = p / params.row_pairs;  // b·T + t
  let j = p % params.row_pairs;
  let t = token % params.tokens;
  let b = token / params.tokens;
  let pos = position[0] + t;
  var value = qkv[p];

#if ${ROPE}
  if (j < params.q_pairs + params.kv_pairs) {
    value = rope(value, pos, j % params.half_dim, params.half_dim, params.log2_theta);
  }
#endif

  if (j < params.q_pairs) {
    q_out[token * params.q_pairs + j] = value;
    return;
  }
  if (pos >= params.capacity) { return; }
  let row = (b * params.capacity + pos) * params.kv_pairs;
  if (j < params.q_pairs + params.kv_pairs) {
    k_cache[row + j - params.q_pairs] = value;
  } else {
    v_cache[row + j - params.q_pairs - params.kv_pairs] = value;
  }
}
