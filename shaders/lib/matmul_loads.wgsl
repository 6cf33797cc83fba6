// The uniforms and the loads of a and b shared by matmul.wgsl and matvec.wgsl, which bind
// `params`, `a` and `b` (vec4 arrays with VEC4, else f32 arrays). A large b is bound in chunks
// (k_begin/k_count or n_begin/n_count, see matmul.wgsl); every index is clamped, and a's k past
// the chunk read as 0, so a load never leaves its binding.

struct Params {
  M: u32,
  N: u32,
  K: u32,                 // row length of a (and of b when transposed)
  k_begin: u32,           // first k of this chunk (column of a)
  k_count: u32,           // k values in this chunk (rows of the bound part of b when not transposed)
  n_begin: u32,           // first output column of this chunk (row 0 of the bound part of b when transposed)
  n_count: u32,           // output columns in this chunk
  b_batch_stride: u32,    // elements between batches of b, 0 when b is shared
}

// a[a_row, k_begin + k .. +3]; a_row is the element index of the row's start. Past k_count: 0.
fn load_a4(a_row: u32, k: u32) -> vec4f {
#if ${VEC4}
  return a[(a_row + params.k_begin + k) / 4u];
#else
  let last = params.k_count - 1u;
  let base = a_row + params.k_begin;
  return vec4f(
    select(0.0, a[base + min(k, last)], k < params.k_count),
    select(0.0, a[base + min(k + 1u, last)], k + 1u < params.k_count),
    select(0.0, a[base + min(k + 2u, last)], k + 2u < params.k_count),
    select(0.0, a[base + min(k + 3u, last)], k + 3u < params.k_count));
#endif
}

#if ${TRANSPOSE_B}
// b'[k .. k+3, n] = b[n, k .. k+3]: four k of one output column (n is clamped by the caller).
fn load_b_column4(b_batch: u32, n: u32, k: u32) -> vec4f {
  let row = b_batch + (n - params.n_begin) * params.K;
#if ${VEC4}
  return b[(row + k) / 4u];
#else
  let last = params.k_count - 1u;
  return vec4f(b[row + min(k, last)], b[row + min(k + 1u, last)], b[row + min(k + 2u, last)], b[row + min(k + 3u, last)]);
#endif
}
#else
// b'[k, n .. n+3] = b[k, n .. n+3]: one k of four output columns (n is the first, clamped).
fn load_b_row4(b_batch: u32, k: u32, n: u32) -> vec4f {
  let row = b_batch + min(k, params.k_count - 1u) * params.N;
#if ${VEC4}
  return b[(row + n) / 4u];
#else
  let last = params.N - 1u;
  return vec4f(b[row + n], b[row + min(n + 1u, last)], b[row + min(n + 2u, last)], b[row + min(n + 3u, last)]);
#endif
}
#endif
