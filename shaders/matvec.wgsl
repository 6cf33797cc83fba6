// Matrix-vector product with a fused epilogue, for matmul with M = 1 (decoding one token):
//   out[z, n] = act(Σ_k a[z, k] · b'[z, k, n] + bias[n]) + residual[z, n]
// b' is b ([K, N]) or, with TRANSPOSE_B, bᵀ of b stored [N, K]. A 2-D b is shared by all z.
//
// The op reads every weight once, so it is bound by memory bandwidth: the layout is chosen so
// that neighbouring invocations read neighbouring addresses. A workgroup of 64 invocations
// owns 32 output columns and splits K 8 ways; each invocation sums 4 columns over one eighth of K:
//  - TRANSPOSE_B (rows of b are contiguous in k): invocation = 8 column groups × 8 k-lanes, the
//    8 lanes of a group read consecutive vec4s of the same b row, k-lane l taking k ≡ 4l (mod 32);
//  - otherwise (rows of b are contiguous in n): invocation = 8 k-slices × 8 column lanes, the
//    8 lanes read one row of b, 32 consecutive columns, and k-slice s takes rows k ≡ s (mod 8).
// The 8 partial sums of each column are added through workgroup memory, once, at the end.
//
// Large weights are chunked as in matmul.wgsl (n_begin/n_count, k_begin/k_count, ACCUMULATE,
// EPILOGUE). Every index is clamped and out-of-range terms are zero, so any N, K ≥ 1 works.
// VEC4 (K, and N when b is not transposed, multiples of 4): a and b are read as vec4.

struct Params {
  N: u32,
  K: u32,
  k_begin: u32,
  k_count: u32,
  n_begin: u32,
  n_count: u32,
  b_batch_stride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
#if ${VEC4}
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if ${BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if ${RESIDUAL}
@group(0) @binding(${RESIDUAL_BINDING}) var<storage, read> residual: array<f32>;
#endif

var<workgroup> partial: array<vec4f, 64>;   // [k-part][column group of 4]

// activation(x) comes from epilogue.wgsl, appended by src/ops/matmul.ts.

#if ${VEC4}
#else
// a[z, k_begin + k], 0 past the chunk.
fn load_a(a_batch: u32, k: u32) -> f32 {
  return select(0.0, a[a_batch + params.k_begin + min(k, params.k_count - 1u)], k < params.k_count);
}
#endif

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let z = wg.z;
  let a_batch = z * params.K;
  let b_batch = z * params.b_batch_stride;
  let n_end = params.n_begin + params.n_count;
  var sum = vec4f(0.0);
#if ${TRANSPOSE_B}
  let group = lid / 8u;
  let k_lane = lid % 8u;
  let n = params.n_begin + wg.x * 32u + group * 4u;
  var rows: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) { rows[j] = b_batch + (min(n + j, n_end - 1u) - params.n_begin) * params.K; }
#if ${VEC4}
  for (var k4 = k_lane; k4 < params.k_count / 4u; k4 += 8u) {
    let x = a[(a_batch + params.k_begin) / 4u + k4];
    sum += vec4f(dot(x, b[rows[0] / 4u + k4]), dot(x, b[rows[1] / 4u + k4]), dot(x, b[rows[2] / 4u + k4]), dot(x, b[rows[3] / 4u + k4]));
  }
#else
  let last = params.k_count - 1u;
  for (var k0 = k_lane * 4u; k0 < params.k_count; k0 += 32u) {
    for (var i = 0u; i < 4u; i++) {
      let k = k0 + i;
      let x = load_a(a_batch, k);
      let kk = min(k, last);
      sum += x * vec4f(b[rows[0] + kk], b[rows[1] + kk], b[rows[2] + kk], b[rows[3] + kk]);
    }
  }
#endif
  partial[k_lane * 8u + group] = sum;
#else
  let column_lane = lid % 8u;
  let k_slice = lid / 8u;
  let n = params.n_begin + wg.x * 32u + column_lane * 4u;
  let last_n = params.N - 1u;
  for (var k = k_slice; k < params.k_count; k += 8u) {
    let row = b_batch + k * params.N;
#if ${VEC4}
    let i = a_batch + params.k_begin + k;
    sum += a[i / 4u][i % 4u] * b[(row + min(n, last_n)) / 4u];
#else
    let x = a[a_batch + params.k_begin + k];
    sum += x * vec4f(b[row + min(n, last_n)], b[row + min(n + 1u, last_n)], b[row + min(n + 2u, last_n)], b[row + min(n + 3u, last_n)]);
#endif
  }
  partial[k_slice * 8u + column_lane] = sum;
#endif
  workgroupBarrier();

  // Invocation c < 32 finishes output column n_begin + 32·wg.x + c.
  if (lid >= 32u) { return; }
  let column = lid / 4u;
  var v = 0.0;
  for (var p = 0u; p < 8u; p++) { v += partial[p * 8u + column][lid % 4u]; }
  let out_n = params.n_begin + wg.x * 32u + lid;
  if (out_n >= n_end) { return; }
  let o = z * params.N + out_n;
#if ${ACCUMULATE}
  v += out[o];
#endif
#if ${EPILOGUE}
#if ${BIAS}
  v += bias[out_n];
#endif
  v = activation(v);
#if ${RESIDUAL}
  v += residual[o];
#endif
#endif
  out[o] = v;
}
