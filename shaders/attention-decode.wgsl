// Attention for one query row per head (Tq = 1): the decode step of a language model against
// its KV cache. Same maths, layouts and masks as attention.wgsl, parallelised the other way.
//
// One query is little work, so instead of one invocation per query row this kernel splits the
// keys over the workgroup (flash-decoding): one workgroup per (head, batch) = workgroup_id (x, y),
// THREADS invocations, invocation t taking keys t, t + THREADS, t + 2·THREADS, ... with its own
// online softmax (running max `m`, sum `l`, accumulator `acc` in registers). The partial results
// are then merged through workgroup memory: global max M, each part rescaled by exp2(m - M), and
// the sums and accumulators added up. THREADS is sized so that THREADS heads fit there.
// Heads are held as vec4s, the last one zero-padded when D is not a multiple of 4.
//
// Key j is visible iff j < validKeys (kvLength, read at run time) and keyMask[b, j] != 0. The causal
// rule (j <= 0 + validKeys - 1) sees every valid key, so it needs no code here.
// Scores are in base 2 (query pre-multiplied by scale·log2(e)); a row that sees no key gives 0.
// PROBS (opt-in) writes the exact normalised probabilities once M and the total sum are known.

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
const THREADS = ${THREADS}u;

var<workgroup> q_shared: array<vec4<f32>, HEAD_VEC4>;
var<workgroup> part_max: array<f32, THREADS>;
var<workgroup> part_sum: array<f32, THREADS>;
var<workgroup> part_acc: array<vec4<f32>, THREADS * HEAD_VEC4>;

fn visible(b: u32, key: u32) -> bool {
#if ${KEY_MASK}
  return key_mask[b * params.tk + key] != 0u;
#else
  return true;
#endif
}

// The (base-2) score of the shared query against the key row starting at k[key_base].
fn score(key_base: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < HEAD_VEC4; c++) {
    s += dot(q_shared[c], load_k4(key_base, 4u * c));
  }
  return s;
}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let b = wg.y;
  let kvh = h / params.heads_per_kv;
  let n_keys = valid_keys();
  let q_base = b * params.q_stride + h * HEAD_DIM;
  let kv_head_base = b * params.tk * params.kv_stride + kvh * HEAD_DIM;

  for (var c = lid; c < HEAD_VEC4; c += THREADS) {
    q_shared[c] = load_q4(q_base, 4u * c) * params.scale_log2;
  }
  workgroupBarrier();

  var m = NEG_BIG;
  var l = 0.0;
  var acc: array<vec4<f32>, HEAD_VEC4>;
  for (var j = lid; j < n_keys; j += THREADS) {
    if (!visible(b, j)) { continue; }
    let key_base = kv_head_base + j * params.kv_stride;
    let s = score(key_base);
    let p = online_softmax_fold(s, &m, &l, &acc);
    for (var c = 0u; c < HEAD_VEC4; c++) {
      acc[c] += p * load_v4(key_base, 4u * c);
    }
  }

  // Merge the THREADS partial softmaxes. Scanning ≤ 64 values beats a barrier-per-level tree here.
  part_max[lid] = m;
  workgroupBarrier();
  var m_all = NEG_BIG;
  for (var t = 0u; t < THREADS; t++) {
    m_all = max(m_all, part_max[t]);
  }
  let rescale = exp2(m - m_all);  // parts that saw no key have l = 0 and acc = 0
  part_sum[lid] = l * rescale;
  for (var c = 0u; c < HEAD_VEC4; c++) {
    part_acc[lid * HEAD_VEC4 + c] = acc[c] * rescale;
  }
  workgroupBarrier();
  var l_all = 0.0;
  for (var t = 0u; t < THREADS; t++) {
    l_all += part_sum[t];
  }
  let inv_l = select(0.0, 1.0 / l_all, l_all > 0.0);  // a row that saw no key gives 0, not NaN
  for (var d = lid; d < HEAD_DIM; d += THREADS) {
    var o = 0.0;
    for (var t = 0u; t < THREADS; t++) {
      o += part_acc[t * HEAD_VEC4 + d / 4u][d % 4u];
    }
    out[q_base + d] = o * inv_l;
  }

#if ${PROBS}
  let probs_base = (b * params.num_heads + h) * params.tk;
  for (var j = lid; j < params.tk; j += THREADS) {
    var p = 0.0;
    if (j < n_keys && visible(b, j)) {
      p = exp2(score(kv_head_base + j * params.kv_stride) - m_all) * inv_l;
    }
    probs[probs_base + j] = p;
  }
#endif
}
