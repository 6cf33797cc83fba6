// Matrix-vector product for a few rows, with a fused epilogue: matmul with small M (decoding one
// token for each of M beams or sources; M = 1 for a single sequence):
//   out[z, m, n] = act(Σ_k a[z, m, k] · b'[z, k, n] + bias[n]) + residual[z, m, n]
// b' is b ([K, N]) or, with TRANSPOSE_B, bᵀ of b stored [N, K]. A 2-D b is shared by all z.
//
// The op is bound by reading b, so each value of b is loaded once per workgroup and applied to
// ROWS rows of a, ROWS ∈ {1, 2, 4, 8}: rows m0 .. m0 + ROWS − 1 with m0 = ROWS · wg.y, one vec4
// accumulator per row (acc0 .. acc7, the ones past ROWS compiled out by ROWS_2, ROWS_4, ROWS_8).
// The host picks the smallest ROWS ≥ M for M ≤ 8, so b is read once in all (2 row groups of 8,
// reading b twice, for 8 < M ≤ 16 still beat the tiled kernel on lavapipe).
// A workgroup of 16 invocations owns 64 output columns, invocation i the 4 columns
// n = n_begin + 64 · wg.x + 4 i .. + 3, each summed over all of this chunk's k, 4 k at a time
// (wider workgroups left too few of them for the CPU threads when N is small):
//  - TRANSPOSE_B (rows of b are contiguous in k): 4 vec4 loads, one per column, of b[n + j, k .. k+3];
//  - otherwise (rows of b are contiguous in n): 4 vec4 loads, one per k, of b[k + i, n .. n+3],
//    neighbouring invocations reading neighbouring addresses.
// Every invocation walks the same k at the same time, so all need the same values of a. With
// SUBGROUPS (a fixed subgroup size ≥ 8), lane r loads row m0 + r and the rows are broadcast to the
// other lanes; on CPU adapters (lavapipe) this is much cheaper than each lane gathering ROWS rows.
// Without subgroups every invocation loads the rows itself.
// No workgroup memory and no barrier: each invocation finishes its own ROWS × 4 outputs.
//
// Large weights are chunked as in matmul.wgsl (n_begin/n_count, k_begin/k_count, ACCUMULATE,
// EPILOGUE). Every index is clamped and out-of-range terms are zero, so any M, N, K ≥ 1 works:
// rows past M (when M is not a power of 2, or in the last row group) are computed from row M − 1
// and not stored.
// VEC4 (K, and N when b is not transposed, multiples of 4): a and b are read as vec4.

#if ${SUBGROUPS}
enable subgroups;
#endif

// Params and the loads load_a4, load_b_column4 / load_b_row4.
#include "lib/matmul_loads.wgsl"

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

// store_row: the chunk sum and the bias/activation/residual epilogue.
#include "lib/epilogue.wgsl"

// acc + x · b'[k .. k+3, n .. n+3] for one row of a (x = its 4 values at k .. k+3). The 4 × 4
// block of b' is given as its 4 columns (TRANSPOSE_B: b0 = b'[k .. k+3, n]) or its 4 rows.
fn fma_row(acc: vec4f, x: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) -> vec4f {
#if ${TRANSPOSE_B}
  return acc + vec4f(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
#else
  return fma(vec4f(x.w), b3, fma(vec4f(x.z), b2, fma(vec4f(x.y), b1, fma(vec4f(x.x), b0, acc))));
#endif
}

@compute @workgroup_size(16)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lid: u32,
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let z = wg.z;
  let m0 = wg.y * ${ROWS}u;
  let b_batch = z * params.b_batch_stride;
  let n = params.n_begin + wg.x * 64u + lid * 4u;
  let n_last = params.n_begin + params.n_count - 1u;
  let n_load = min(n, n_last);   // invocations past the edge load valid data, store nothing
  // a_row(r) = element index of row m0 + r of a (clamped to the last row).
  let a_batch = z * params.M * params.K;
#if ${SUBGROUPS}
  let a_own = a_batch + min(m0 + lane % 8u, params.M - 1u) * params.K;
#else
  var a_rows: array<u32, 8>;
  for (var r = 0u; r < 8u; r++) { a_rows[r] = a_batch + min(m0 + r, params.M - 1u) * params.K; }
#endif
#if ${TRANSPOSE_B}
  let n1 = min(n_load + 1u, n_last);
  let n2 = min(n_load + 2u, n_last);
  let n3 = min(n_load + 3u, n_last);
#endif

  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  var acc4 = vec4f(0.0); var acc5 = vec4f(0.0); var acc6 = vec4f(0.0); var acc7 = vec4f(0.0);
  for (var k = 0u; k < params.k_count; k += 4u) {
#if ${TRANSPOSE_B}
    let b0 = load_b_column4(b_batch, n_load, k);
    let b1 = load_b_column4(b_batch, n1, k);
    let b2 = load_b_column4(b_batch, n2, k);
    let b3 = load_b_column4(b_batch, n3, k);
#else
    let b0 = load_b_row4(b_batch, k, n_load);
    let b1 = load_b_row4(b_batch, k + 1u, n_load);
    let b2 = load_b_row4(b_batch, k + 2u, n_load);
    let b3 = load_b_row4(b_batch, k + 3u, n_load);
#endif
#if ${SUBGROUPS}
    let a_mine = load_a4(a_own, k);
    acc0 = fma_row(acc0, subgroupBroadcast(a_mine, 0u), b0, b1, b2, b3);
#if ${ROWS_2}
    acc1 = fma_row(acc1, subgroupBroadcast(a_mine, 1u), b0, b1, b2, b3);
#endif
#if ${ROWS_4}
    acc2 = fma_row(acc2, subgroupBroadcast(a_mine, 2u), b0, b1, b2, b3);
    acc3 = fma_row(acc3, subgroupBroadcast(a_mine, 3u), b0, b1, b2, b3);
#endif
#if ${ROWS_8}
    acc4 = fma_row(acc4, subgroupBroadcast(a_mine, 4u), b0, b1, b2, b3);
    acc5 = fma_row(acc5, subgroupBroadcast(a_mine, 5u), b0, b1, b2, b3);
    acc6 = fma_row(acc6, subgroupBroadcast(a_mine, 6u), b0, b1, b2, b3);
    acc7 = fma_row(acc7, subgroupBroadcast(a_mine, 7u), b0, b1, b2, b3);
#endif
#else
    acc0 = fma_row(acc0, load_a4(a_rows[0], k), b0, b1, b2, b3);
#if ${ROWS_2}
    acc1 = fma_row(acc1, load_a4(a_rows[1], k), b0, b1, b2, b3);
#endif
#if ${ROWS_4}
    acc2 = fma_row(acc2, load_a4(a_rows[2], k), b0, b1, b2, b3);
    acc3 = fma_row(acc3, load_a4(a_rows[3], k), b0, b1, b2, b3);
#endif
#if ${ROWS_8}
    acc4 = fma_row(acc4, load_a4(a_rows[4], k), b0, b1, b2, b3);
    acc5 = fma_row(acc5, load_a4(a_rows[5], k), b0, b1, b2, b3);
    acc6 = fma_row(acc6, load_a4(a_rows[6], k), b0, b1, b2, b3);
    acc7 = fma_row(acc7, load_a4(a_rows[7], k), b0, b1, b2, b3);
#endif
#endif
  }

  store_row(z, m0, n, acc0);
#if ${ROWS_2}
  store_row(z, m0 + 1u, n, acc1);
#endif
#if ${ROWS_4}
  store_row(z, m0 + 2u, n, acc2);
  store_row(z, m0 + 3u, n, acc3);
#endif
#if ${ROWS_8}
  store_row(z, m0 + 4u, n, acc4);
  store_row(z, m0 + 5u, n, acc5);
  store_row(z, m0 + 6u, n, acc6);
  store_row(z, m0 + 7u, n, acc7);
#endif
}
