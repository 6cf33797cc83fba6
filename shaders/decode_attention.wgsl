// One decode step of attention, straight from the fused q|k|v projection: rotate q and k (RoPE,
// optional), append k and v to the KV caches, and attend over every cached position plus the new
// one, all in one dispatch (qkv_split.wgsl followed by attention-decode.wgsl, for T = 1).
//
// Layout: qkv [B, 1, (H + 2·KVH)·D] (q heads, then k heads, then v heads); k_cache and v_cache
// [B, capacity, KVH·D]; out [B, 1, H·D]. position[0] = p is the new token's cache row, so keys
// 0 .. p − 1 come from the caches and key p is the new one. Query head h reads kv head
// h / (H / KVH) (grouped-query attention).
//
// One workgroup per (head, batch entry) = workgroup_id (x, y). Its q and the new k, v rows are
// rotated into workgroup memory first; the workgroup of the first query head of each kv group
// also writes the new k, v to the caches. No workgroup reads row p back from memory (another
// workgroup may be writing it): key p is taken from workgroup memory. The keys are then split
// over THREADS invocations (flash-decoding): invocation t takes keys t, t + THREADS, ... with an
// online softmax of its own (max m, sum l, accumulator acc), and the parts are merged through
// workgroup memory: global max M, each part rescaled by exp2(m − M).
// Scores are in base 2 (q pre-multiplied by scale·log2 e). RoPE angles: p · θ^(−2i/D), adjacent pairs.

struct Params {
  heads: u32,         // H
  heads_per_kv: u32,  // H / KVH
  capacity: u32,      // cache rows per batch entry
  row: u32,           // (H + 2·KVH)·D: elements per qkv row
  kv_stride: u32,     // KVH·D: elements per cache row
  scale_log2: f32,    // scale · log2(e)
  log2_theta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> position: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>;

const HEAD_DIM = ${HEAD_DIM}u;
const THREADS = ${THREADS}u;
// Stands in for -infinity: exp2(NEG_BIG - m) is 0 for any real m.
const NEG_BIG = -1.0e30;

var<workgroup> q_new: array<f32, HEAD_DIM>;
var<workgroup> k_new: array<f32, HEAD_DIM>;
var<workgroup> v_new: array<f32, HEAD_DIM>;
var<workgroup> part_max: array<f32, THREADS>;
var<workgroup> part_sum: array<f32, THREADS>;
var<workgroup> part_acc: array<f32, THREADS * HEAD_DIM>;

// rotated(at, p, i): pair i of a q or k head of qkv, turned by RoPE (with ROPE).
#include "lib/decode_qkv.wgsl"
// online_softmax_step: one key into a running max, sum and accumulator.
#include "lib/online_softmax.wgsl"

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let b = wg.y;
  let kvh = h / params.heads_per_kv;
  let p = position[0];
  let q_at = b * params.row + h * HEAD_DIM;
  let k_at = b * params.row + params.heads * HEAD_DIM + kvh * HEAD_DIM;
  let v_at = k_at + params.kv_stride;

  for (var i = lid; i < HEAD_DIM / 2u; i += THREADS) {
    let q = rotated(q_at, p, i) * params.scale_log2;
    let k = rotated(k_at, p, i);
    q_new[2u * i] = q.x;
    q_new[2u * i + 1u] = q.y;
    k_new[2u * i] = k.x;
    k_new[2u * i + 1u] = k.y;
  }
  for (var d = lid; d < HEAD_DIM; d += THREADS) { v_new[d] = qkv[v_at + d]; }
  workgroupBarrier();

  let cached = min(p, params.capacity);  // keys read from the caches
  let cache_at = b * params.capacity * params.kv_stride + kvh * HEAD_DIM;
  if (h % params.heads_per_kv == 0u && p < params.capacity) {
    for (var d = lid; d < HEAD_DIM; d += THREADS) {
      k_cache[cache_at + p * params.kv_stride + d] = k_new[d];
      v_cache[cache_at + p * params.kv_stride + d] = v_new[d];
    }
  }

  var m = NEG_BIG;
  var l = 0.0;
  var acc: array<f32, HEAD_DIM>;
  for (var j = lid; j <= cached; j += THREADS) {
    let is_new = j == cached;
    let key = cache_at + j * params.kv_stride;
    var score = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) {
      if (is_new) { score += q_new[d] * k_new[d]; } else { score += q_new[d] * k_cache[key + d]; }
    }
    let cw = online_softmax_step(score, &m, &l);
    for (var d = 0u; d < HEAD_DIM; d++) {
      var value: f32;
      if (is_new) { value = v_new[d]; } else { value = v_cache[key + d]; }
      acc[d] = acc[d] * cw.x + cw.y * value;
    }
  }

  part_max[lid] = m;
  workgroupBarrier();
  var global_max = NEG_BIG;
  for (var t = 0u; t < THREADS; t++) { global_max = max(global_max, part_max[t]); }
  let rescale = exp2(m - global_max);  // 0 for invocations that saw no key
  part_sum[lid] = l * rescale;
  for (var d = 0u; d < HEAD_DIM; d++) { part_acc[lid * HEAD_DIM + d] = acc[d] * rescale; }
  workgroupBarrier();

  var total = 0.0;
  for (var t = 0u; t < THREADS; t++) { total += part_sum[t]; }
  let out_at = (b * params.heads + h) * HEAD_DIM;
  for (var d = lid; d < HEAD_DIM; d += THREADS) {
    var v = 0.0;
    for (var t = 0u; t < THREADS; t++) { v += part_acc[t * HEAD_DIM + d]; }
    out[out_at + d] = v / total;
  }
}
