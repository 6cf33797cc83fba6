// Matrix multiply with a fused epilogue:
//   out[z, m, n] = act(Σ_k a[z, m, k] · b'[z, k, n] + bias[n]) + residual[z, m, n]
// where b' is b ([K, N] row-major) or, with TRANSPOSE_B, bᵀ of b stored [N, K] (nn.Linear's
// [out, in] weight, read in place). A 2-D b is shared by every batch z (b_batch_stride = 0).
//
// Tiling. A workgroup is ROW_BLOCKS blocks of LANES invocations; block i covers 16 rows of out,
// all blocks the same 4·LANES columns. Each invocation owns 4 adjacent columns of its block's
// 16 rows: 16 vec4 accumulators held for the whole K loop. K is walked 4 at a time: each step
// loads a 4×4 block of b' (4 k × the invocation's 4 columns) and, for every row, the 4 values
// a[m, k..k+3], then does 16·4 vec4 FMAs. The row blocks of a workgroup read the same panel of
// b, so on CPU adapters, which run them one after the other, it comes from cache.
//
// Why 16 rows: on lavapipe a load that differs between lanes is a loop over the SIMD lanes, so
// the loads of b, not the FMAs, set the pace; each loaded value of b now serves 16 rows instead
// of 8. That took 1024³ from about 20 to 24 GFLOP/s and GPT-2's 128×768×2304 from 20 to 23–28,
// though the accumulators no longer fit in the CPU's vector registers (bench/kernels.ts).
//
// Why not workgroup memory: on CPU adapters (lavapipe) it measured slower than the caches (its
// barriers are expensive), and the rows of A are shared through subgroup broadcasts instead:
// with SUBGROUPS (a block = one subgroup of LANES ≥ 8 lanes), lane l loads rows (l mod 8) and
// 8 + (l mod 8) once and they are broadcast to every lane, so a row of A is read once per block,
// not per invocation. Without subgroups every invocation reads the 16 rows itself.
//
// Large weights. A b bigger than one storage binding is cut into chunks, one dispatch each.
// With TRANSPOSE_B the chunks are row ranges of b, i.e. output columns n_begin..+n_count, and
// each dispatch finishes its own columns. Otherwise they are row ranges of b, i.e. the k range
// k_begin..+k_count: every chunk after the first adds (ACCUMULATE) onto the partial sums the
// previous ones left in out, and only the last applies the epilogue (EPILOGUE,
// lib/epilogue.wgsl).
//
// VEC4: a, b and out are read as vec4 (K, and N when b is not transposed, are multiples of 4);
// otherwise element by element, with every index clamped and A's k beyond the end read as 0,
// so any M, N, K ≥ 1 is correct.

#if ${SUBGROUPS}
enable subgroups;
// Blocks past the last row return early (see main); a block is exactly one subgroup, so every
// broadcast still runs in subgroup-uniform control flow, which the analysis cannot see.
diagnostic(off, subgroup_uniformity);
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

// acc += a[4 k] · b'[4 k × 4 n] for one row: the 4×4 block is given as its 4 rows b0..b3.
fn fma_row(acc: vec4f, a4: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) -> vec4f {
  return fma(vec4f(a4.w), b3, fma(vec4f(a4.z), b2, fma(vec4f(a4.y), b1, fma(vec4f(a4.x), b0, acc))));
}

@compute @workgroup_size(${LANES} * ${ROW_BLOCKS})
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lid: u32,
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let z = wg.z;
  let m0 = (wg.y * ${ROW_BLOCKS}u + lid / ${LANES}u) * 16u;
  // A block wholly below the last row has nothing to do: 197 rows fill 13 of the 16 blocks of
  // a 4-workgroup column, and skipping the other 3 saves a fifth of the work.
  if (m0 >= params.M) { return; }
  let n = params.n_begin + (wg.x * ${LANES}u + lid % ${LANES}u) * 4u;
  let n_load = min(n, params.n_begin + params.n_count - 1u);   // lanes past the edge load valid data, store nothing
  let last_m = params.M - 1u;
  let a_batch = z * params.M * params.K;
  let b_batch = z * params.b_batch_stride;
#if ${SUBGROUPS}
  let a_own = a_batch + min(m0 + lane % 8u, last_m) * params.K;
  let a_own2 = a_batch + min(m0 + 8u + lane % 8u, last_m) * params.K;
#else
  var a_rows: array<u32, 16>;
  for (var r = 0u; r < 16u; r++) { a_rows[r] = a_batch + min(m0 + r, last_m) * params.K; }
#endif
#if ${TRANSPOSE_B}
  let n_last = params.n_begin + params.n_count - 1u;
  let n1 = min(n_load + 1u, n_last);
  let n2 = min(n_load + 2u, n_last);
  let n3 = min(n_load + 3u, n_last);
#endif

  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  var acc4 = vec4f(0.0); var acc5 = vec4f(0.0); var acc6 = vec4f(0.0); var acc7 = vec4f(0.0);
  var acc8 = vec4f(0.0); var acc9 = vec4f(0.0); var acc10 = vec4f(0.0); var acc11 = vec4f(0.0);
  var acc12 = vec4f(0.0); var acc13 = vec4f(0.0); var acc14 = vec4f(0.0); var acc15 = vec4f(0.0);
  for (var k = 0u; k < params.k_count; k += 4u) {
#if ${TRANSPOSE_B}
    let c0 = load_b_column4(b_batch, n_load, k);
    let c1 = load_b_column4(b_batch, n1, k);
    let c2 = load_b_column4(b_batch, n2, k);
    let c3 = load_b_column4(b_batch, n3, k);
    let b0 = vec4f(c0.x, c1.x, c2.x, c3.x);
    let b1 = vec4f(c0.y, c1.y, c2.y, c3.y);
    let b2 = vec4f(c0.z, c1.z, c2.z, c3.z);
    let b3 = vec4f(c0.w, c1.w, c2.w, c3.w);
#else
    let b0 = load_b_row4(b_batch, k, n_load);
    let b1 = load_b_row4(b_batch, k + 1u, n_load);
    let b2 = load_b_row4(b_batch, k + 2u, n_load);
    let b3 = load_b_row4(b_batch, k + 3u, n_load);
#endif
#if ${SUBGROUPS}
    let a_mine = load_a4(a_own, k);
    acc0 = fma_row(acc0, subgroupBroadcast(a_mine, 0u), b0, b1, b2, b3);
    acc1 = fma_row(acc1, subgroupBroadcast(a_mine, 1u), b0, b1, b2, b3);
    acc2 = fma_row(acc2, subgroupBroadcast(a_mine, 2u), b0, b1, b2, b3);
    acc3 = fma_row(acc3, subgroupBroadcast(a_mine, 3u), b0, b1, b2, b3);
    acc4 = fma_row(acc4, subgroupBroadcast(a_mine, 4u), b0, b1, b2, b3);
    acc5 = fma_row(acc5, subgroupBroadcast(a_mine, 5u), b0, b1, b2, b3);
    acc6 = fma_row(acc6, subgroupBroadcast(a_mine, 6u), b0, b1, b2, b3);
    acc7 = fma_row(acc7, subgroupBroadcast(a_mine, 7u), b0, b1, b2, b3);
    let a_mine2 = load_a4(a_own2, k);
    acc8 = fma_row(acc8, subgroupBroadcast(a_mine2, 0u), b0, b1, b2, b3);
    acc9 = fma_row(acc9, subgroupBroadcast(a_mine2, 1u), b0, b1, b2, b3);
    acc10 = fma_row(acc10, subgroupBroadcast(a_mine2, 2u), b0, b1, b2, b3);
    acc11 = fma_row(acc11, subgroupBroadcast(a_mine2, 3u), b0, b1, b2, b3);
    acc12 = fma_row(acc12, subgroupBroadcast(a_mine2, 4u), b0, b1, b2, b3);
    acc13 = fma_row(acc13, subgroupBroadcast(a_mine2, 5u), b0, b1, b2, b3);
    acc14 = fma_row(acc14, subgroupBroadcast(a_mine2, 6u), b0, b1, b2, b3);
    acc15 = fma_row(acc15, subgroupBroadcast(a_mine2, 7u), b0, b1, b2, b3);
#else
    acc0 = fma_row(acc0, load_a4(a_rows[0], k), b0, b1, b2, b3);
    acc1 = fma_row(acc1, load_a4(a_rows[1], k), b0, b1, b2, b3);
    acc2 = fma_row(acc2, load_a4(a_rows[2], k), b0, b1, b2, b3);
    acc3 = fma_row(acc3, load_a4(a_rows[3], k), b0, b1, b2, b3);
    acc4 = fma_row(acc4, load_a4(a_rows[4], k), b0, b1, b2, b3);
    acc5 = fma_row(acc5, load_a4(a_rows[5], k), b0, b1, b2, b3);
    acc6 = fma_row(acc6, load_a4(a_rows[6], k), b0, b1, b2, b3);
    acc7 = fma_row(acc7, load_a4(a_rows[7], k), b0, b1, b2, b3);
    acc8 = fma_row(acc8, load_a4(a_rows[8], k), b0, b1, b2, b3);
    acc9 = fma_row(acc9, load_a4(a_rows[9], k), b0, b1, b2, b3);
    acc10 = fma_row(acc10, load_a4(a_rows[10], k), b0, b1, b2, b3);
    acc11 = fma_row(acc11, load_a4(a_rows[11], k), b0, b1, b2, b3);
    acc12 = fma_row(acc12, load_a4(a_rows[12], k), b0, b1, b2, b3);
    acc13 = fma_row(acc13, load_a4(a_rows[13], k), b0, b1, b2, b3);
    acc14 = fma_row(acc14, load_a4(a_rows[14], k), b0, b1, b2, b3);
    acc15 = fma_row(acc15, load_a4(a_rows[15], k), b0, b1, b2, b3);
#endif
  }

  store_row(z, m0, n, acc0);
  store_row(z, m0 + 1u, n, acc1);
  store_row(z, m0 + 2u, n, acc2);
  store_row(z, m0 + 3u, n, acc3);
  store_row(z, m0 + 4u, n, acc4);
  store_row(z, m0 + 5u, n, acc5);
  store_row(z, m0 + 6u, n, acc6);
  store_row(z, m0 + 7u, n, acc7);
  store_row(z, m0 + 8u, n, acc8);
  store_row(z, m0 + 9u, n, acc9);
  store_row(z, m0 + 10u, n, acc10);
  store_row(z, m0 + 11u, n, acc11);
  store_row(z, m0 + 12u, n, acc12);
  store_row(z, m0 + 13u, n, acc13);
  store_row(z, m0 + 14u, n, acc14);
  store_row(z, m0 + 15u, n, acc15);
}
