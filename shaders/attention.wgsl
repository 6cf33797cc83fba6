// Fused multi-head attention with an online softmax (FlashAttention-style, forward only):
//
//   out[b, i, h, :] = Σ_j softmax_j(q[b, i, h, :] · k[b, j, kvh, :] · scale + mask[i, j]) · v[b, j, kvh, :]
//
// Layout: q and out are [B, Tq, H·D], k and v are [B, Tk, KVH·D] (heads side by side in each row).
// Grouped-query attention: query head h reads kv head h / (H / KVH).
//
// Tiling: one workgroup per (block of BLOCK_Q query rows, head, batch) = workgroup_id (x, y, z).
// Each invocation owns one query row and keeps, in registers, its scaled query, its running max
// `m`, running denominator `l` and the unnormalised output `acc` (heads as vec4s, zero-padded to
// a multiple of 4). The workgroup walks the keys in tiles of BLOCK_K: every invocation helps copy
// the K and V tile into workgroup memory, then each folds the tile's keys into its row one by one,
// rescaling `acc` and `l` only when the running max grows.
// The Tq×Tk score matrix therefore never exists in global memory.
//
// Masking: key j is visible to query row i iff j < validKeys (kvLength, when given, read at run
// time), keyMask[b, j] != 0 (when given), and, when causal, j <= i + validKeys - Tq (queries are
// the last Tq positions). A row that sees no key gets output 0.
//
// Scores are kept in base 2: the query is pre-multiplied by scale·log2(e), so exp2 replaces exp.
//
// PROBS (opt-in, for visualisation) adds a second pass over the keys that writes the exact
// normalised probabilities, now that each row's final max and sum are known.

// Params, HEAD_VEC4, NEG_BIG, load_q4 / load_k4 / load_v4, valid_keys, online_softmax_fold.
#include "lib/attention_heads.wgsl"

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#if ${KEY_MASK}
@group(0) @binding(${KEY_MASK_BINDING}) var<storage, read> key_mask: array<u32>;
#endif
#if ${KV_LENGTH}
@group(0) @binding(${KV_LENGTH_BINDING}) var<storage, read> kv_length: array<u32>;
#endif
#if ${PROBS}
@group(0) @binding(${PROBS_BINDING}) var<storage, read_write> probs: array<f32>;
#endif

const HEAD_DIM = ${HEAD_DIM}u;
const BLOCK_Q = ${BLOCK_Q}u;
const BLOCK_K = ${BLOCK_K}u;

var<workgroup> k_tile: array<vec4<f32>, BLOCK_K * HEAD_VEC4>;
var<workgroup> v_tile: array<vec4<f32>, BLOCK_K * HEAD_VEC4>;

// Whether a query row whose causal bound is `last_key` may see key `key` of batch entry `b`.
fn visible(b: u32, key: u32, last_key: i32) -> bool {
  var ok = true;
#if ${KEY_MASK}
  ok = key_mask[b * params.tk + key] != 0u;
#endif
#if ${CAUSAL}
  ok = ok && i32(key) <= last_key;
#endif
  return ok;
}

@compute @workgroup_size(${BLOCK_Q})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let h = wg.y;
  let kvh = h / params.heads_per_kv;
  let first_row = wg.x * BLOCK_Q;
  let row = first_row + lid;
  let live = row < params.tq;  // rows past Tq still help load tiles, but write nothing
  let n_keys = valid_keys();
  // Causal: row i sees keys j <= i + shift, since the queries are the last Tq of n_keys positions.
  let shift = i32(n_keys) - i32(params.tq);
  let last_key = i32(row) + shift;

  var q_row: array<vec4<f32>, HEAD_VEC4>;
  let q_base = (b * params.tq + min(row, params.tq - 1u)) * params.q_stride + h * HEAD_DIM;
  for (var c = 0u; c < HEAD_VEC4; c++) {
    q_row[c] = load_q4(q_base, 4u * c) * params.scale_log2;
  }

  // Keys past the block's last visible key need no tile at all.
  var key_end = n_keys;
#if ${CAUSAL}
  let block_last_row = min(first_row + BLOCK_Q, params.tq) - 1u;
  key_end = u32(clamp(i32(block_last_row) + shift + 1, 0, i32(n_keys)));
#endif

  var m = NEG_BIG;
  var l = 0.0;
  var acc: array<vec4<f32>, HEAD_VEC4>;
  let kv_head_base = b * params.tk * params.kv_stride + kvh * HEAD_DIM;

  for (var k0 = 0u; k0 < key_end; k0 += BLOCK_K) {
    let tile_len = min(BLOCK_K, key_end - k0);
    workgroupBarrier();  // everyone is done with the previous tile
    for (var e = lid; e < tile_len * HEAD_VEC4; e += BLOCK_Q) {
      let src = kv_head_base + (k0 + e / HEAD_VEC4) * params.kv_stride;
      let d = 4u * (e % HEAD_VEC4);
      k_tile[e] = load_k4(src, d);
      v_tile[e] = load_v4(src, d);
    }
    workgroupBarrier();

    for (var j = 0u; j < tile_len; j++) {
      if (!visible(b, k0 + j, last_key)) { continue; }
      var score = 0.0;
      for (var c = 0u; c < HEAD_VEC4; c++) {
        score += dot(q_row[c], k_tile[j * HEAD_VEC4 + c]);
      }
      let p = online_softmax_fold(score, &m, &l, &acc);
      for (var c = 0u; c < HEAD_VEC4; c++) {
        acc[c] += p * v_tile[j * HEAD_VEC4 + c];
      }
    }
  }

  if (!live) { return; }
  let inv_l = select(0.0, 1.0 / l, l > 0.0);  // a row that saw no key gives 0, not NaN
  let out_base = (b * params.tq + row) * params.q_stride + h * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    out[out_base + d] = acc[d / 4u][d % 4u] * inv_l;
  }

#if ${PROBS}
  let probs_base = ((b * params.num_heads + h) * params.tq + row) * params.tk;
  for (var j = 0u; j < params.tk; j++) {
    var p = 0.0;
    if (j < n_keys && visible(b, j, last_key)) {
      let key_base = kv_head_base + j * params.kv_stride;
      var score = 0.0;
      for (var c = 0u; c < HEAD_VEC4; c++) {
        score += dot(q_row[c], load_k4(key_base, 4u * c));
      }
      p = exp2(score - m) * inv_l;
    }
    probs[probs_base + j] = p;
  }
#endif
}
