// One decode step of attention followed by the output projection, for small models, in one
// dispatch: decode_attention.wgsl (rotate q and k, append k and v to the caches, attend over
// positions 0 .. p) and then out = residual + attn · oᵀ, which would otherwise be a second dispatch
// (on CPU implementations such as lavapipe a dispatch costs more than a small model's arithmetic).
//
// Layout: qkv [B, 1, (H + 2·KVH)·D] (q heads, then k heads, then v heads); k_cache and v_cache
// [B, capacity, KVH·D]; o [N, H·D] (nn.Linear's layout); residual and out [B, 1, N].
// position[0] = p is the new token's cache row. Query head h reads kv head h / (H / KVH).
//
// One workgroup per batch entry = workgroup_id.x, of THREADS invocations. Invocation t takes
// heads t, t + THREADS, ... and walks all keys of its head on its own (an online softmax: max m,
// sum l, accumulator acc), so attention needs no barrier; a short context is what this kernel is
// for. Each invocation rotates the new k of its head's kv group itself and takes key p
// from registers (another invocation of the group may be writing row p); the first head of each
// kv group writes that row. The heads' outputs meet in workgroup memory (the only barrier), and
// invocation t then computes outputs t, t + THREADS, ... of the projection.
// Scores are in base 2 (q pre-multiplied by scale·log2 e). RoPE angles: p · θ^(−2i/D), adjacent pairs.

struct Params {
  heads: u32,         // H
  heads_per_kv: u32,  // H / KVH
  capacity: u32,      // cache rows per batch entry
  row: u32,           // (H + 2·KVH)·D: elements per qkv row
  kv_stride: u32,     // KVH·D: elements per cache row
  model_dim: u32,     // N: projection outputs
  scale_log2: f32,    // scale · log2(e)
  log2_theta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> position: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(6) var<storage, read> o: array<f32>;
@group(0) @binding(7) var<storage, read> residual: array<f32>;

const HEAD_DIM = ${HEAD_DIM}u;
const ATTN_DIM = ${ATTN_DIM}u;  // H·D
const THREADS = ${THREADS}u;

var<workgroup> attn: array<f32, ATTN_DIM>;

// rotated(at, p, i): pair i of a q or k head of qkv, turned by RoPE (with ROPE).
#include "lib/decode_qkv.wgsl"
// online_softmax_step: one key into a running max, sum and accumulator.
#include "lib/online_softmax.wgsl"

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.x;
  let p = position[0];
  let cached = min(p, params.capacity);  // keys read from the caches

  for (var h = lid; h < params.heads; h += THREADS) {
    let kvh = h / params.heads_per_kv;
    let q_at = b * params.row + h * HEAD_DIM;
    let k_at = b * params.row + params.heads * HEAD_DIM + kvh * HEAD_DIM;
    let v_at = k_at + params.kv_stride;
    var q: array<f32, HEAD_DIM>;
    var k_new: array<f32, HEAD_DIM>;
    for (var i = 0u; i < HEAD_DIM / 2u; i++) {
      let qr = rotated(q_at, p, i) * params.scale_log2;
      let kr = rotated(k_at, p, i);
      q[2u * i] = qr.x;
      q[2u * i + 1u] = qr.y;
      k_new[2u * i] = kr.x;
      k_new[2u * i + 1u] = kr.y;
    }
    let cache_at = b * params.capacity * params.kv_stride + kvh * HEAD_DIM;
    if (h % params.heads_per_kv == 0u && p < params.capacity) {
      for (var d = 0u; d < HEAD_DIM; d++) {
        k_cache[cache_at + p * params.kv_stride + d] = k_new[d];
        v_cache[cache_at + p * params.kv_stride + d] = qkv[v_at + d];
      }
    }

    // The new key first: it sets a finite running max, so no key needs a -infinity stand-in.
    var m = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) { m += q[d] * k_new[d]; }
    var l = 1.0;
    var acc: array<f32, HEAD_DIM>;
    for (var d = 0u; d < HEAD_DIM; d++) { acc[d] = qkv[v_at + d]; }
    for (var j = 0u; j < cached; j++) {
      let key = cache_at + j * params.kv_stride;
      var score = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { score += q[d] * k_cache[key + d]; }
      let cw = online_softmax_step(score, &m, &l);
      for (var d = 0u; d < HEAD_DIM; d++) { acc[d] = acc[d] * cw.x + cw.y * v_cache[key + d]; }
    }
    for (var d = 0u; d < HEAD_DIM; d++) { attn[h * HEAD_DIM + d] = acc[d] / l; }
  }
  workgroupBarrier();

  for (var n = lid; n < params.model_dim; n += THREADS) {
    let weights = n * ATTN_DIM;
    var sum = 0.0;
    for (var k = 0u; k < ATTN_DIM; k++) { sum += attn[k] * o[weights + k]; }
    out[b * params.model_dim + n] = sum + residual[b * params.model_dim + n];
  }
}
