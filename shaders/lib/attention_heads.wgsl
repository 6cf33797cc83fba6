// What attention.wgsl and attention-decode.wgsl share: their uniforms, heads held as HEAD_VEC4
// vec4s (the last one zero-padded), their loads from q, k and v, the valid keys, and the
// online-softmax fold of one key into a row's running max m, sum l and accumulator acc. The
// including kernel defines HEAD_DIM and binds params, q, k, v and, with KV_LENGTH, kv_length.

struct Params {
  tq: u32,            // query rows per batch entry (1 for attention-decode.wgsl)
  tk: u32,            // key rows per batch entry (the KV-cache capacity when kvLength is given)
  num_heads: u32,     // H
  heads_per_kv: u32,  // H / KVH
  q_stride: u32,      // H·D: elements per row of q and out
  kv_stride: u32,     // KVH·D: elements per row of k and v
  scale_log2: f32,    // scale · log2(e)
}

const HEAD_VEC4 = (HEAD_DIM + 3u) / 4u;
// Stands in for -infinity (which WGSL constants cannot hold): exp2(NEG_BIG - m) is 0 for any real m.
const NEG_BIG = -1.0e30;

// Elements d..d+3 of the head row starting at q[i] / k[i] / v[i]; lanes past HEAD_DIM read as 0.
// (Rows are not vec4-aligned for odd head sizes, so the buffers stay arrays of f32.)
fn load_q4(i: u32, d: u32) -> vec4<f32> {
  var r = vec4(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (d + t < HEAD_DIM) { r[t] = q[i + d + t]; }
  }
  return r;
}
fn load_k4(i: u32, d: u32) -> vec4<f32> {
  var r = vec4(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (d + t < HEAD_DIM) { r[t] = k[i + d + t]; }
  }
  return r;
}
fn load_v4(i: u32, d: u32) -> vec4<f32> {
  var r = vec4(0.0);
  for (var t = 0u; t < 4u; t++) {
    if (d + t < HEAD_DIM) { r[t] = v[i + d + t]; }
  }
  return r;
}

fn valid_keys() -> u32 {
#if ${KV_LENGTH}
  return min(kv_length[0], params.tk);
#else
  return params.tk;
#endif
}

// Folds a key of (base-2) score `score` into the running m, l and acc, and returns its weight
// p = exp2(score − m): the caller adds p · v. acc and l are rescaled only when the running max
// grows (rarely, after the first keys).
fn online_softmax_fold(score: f32, m: ptr<function, f32>, l: ptr<function, f32>, acc: ptr<function, array<vec4<f32>, HEAD_VEC4>>) -> f32 {
  if (score > *m) {
    let correction = exp2(*m - score);
    *l *= correction;
    for (var c = 0u; c < HEAD_VEC4; c++) {
      (*acc)[c] *= correction;
    }
    *m = score;
  }
  let p = exp2(score - *m);
  *l += p;
  return p;
}
