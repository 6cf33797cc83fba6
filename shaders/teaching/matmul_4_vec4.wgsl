// Teaching matmul, step 4 of 5: vec4 loads and vec4 arithmetic.
//
//   c[m, n] = Σ_k a[m, k] · b[k, n]        a: [M, K], b: [K, N], c: [M, N], row-major f32
//
// Same blocking as step 3 (a workgroup of 16 × 16 invocations covers 64 × 64 outputs, each
// invocation a 4 × 4 block, K through workgroup memory 16 at a time), with every memory access
// four floats wide:
//   - a, b and c are bound as arrays of vec4f, so each global load or store moves 16 bytes,
//     and a tile is copied with one load per invocation (step 3: four);
//   - b_tile holds rows of b as vec4s: b_tile[kk][x] is the invocation's 4 columns at k0 + kk;
//   - a_tile holds a transposed: a_tile[kk][y] is a[4y .. 4y+3, k0 + kk], the invocation's 4 rows,
//     so one vec4 read gives the 4 values of a that step 3 loaded one by one;
//   - the accumulators are 4 vec4f rows, and each k is 4 vec4 FMAs: acc_i += a_i · b_row.
// Per k: 2 vec4 loads from workgroup memory for 16 multiply-adds (step 3: 8 scalar loads).
//
// The price: a row of a must start on a vec4 boundary, so K must be a multiple of 4, and so
// must N (rows of b and c). src/ops/teaching-matmul.ts rejects other shapes with a clear error;
// the production kernel (step 5) reads element by element when they are not.
//
// Edges in M, N and K: as before, copies outside the matrices write 0 and stores outside c are
// skipped. Since N and K are multiples of 4, a vec4 is either wholly inside or wholly outside.
//
// Next: the production kernel, ../matmul.wgsl.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4f>;

const BM = 64u;                // output rows per workgroup
const BN = 64u;                // output columns per workgroup
const BK = 16u;                // k values per tile

var<workgroup> a_tile: array<array<vec4f, BM / 4u>, BK>;   // a_tile[kk][r / 4][r % 4] = a[m0 + r, k0 + kk]
var<workgroup> b_tile: array<array<vec4f, BN / 4u>, BK>;   // b_tile[kk][j] = b[k0 + kk, n0 + 4j .. 4j+3]

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let k_vecs = params.K / 4u;    // vec4s per row of a
  let n_vecs = params.N / 4u;    // vec4s per row of b and c

  var acc0 = vec4f(0.0);         // row 4y + 0 of the block, 4 columns
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    // a's tile is 64 rows × 4 vec4s: invocation tid copies row tid / 4, k0 + 4·(tid % 4) .. +3,
    // and scatters the 4 values into component (row % 4) of 4 consecutive kk.
    let r = tid / 4u;
    let kq = tid % 4u;
    let m = m0 + r;
    let k = k0 + 4u * kq;
    var a4 = vec4f(0.0);
    if (m < params.M && k < params.K) { a4 = a[m * k_vecs + k / 4u]; }
    for (var t = 0u; t < 4u; t++) {
      a_tile[4u * kq + t][r / 4u][r % 4u] = a4[t];
    }
    // b's tile is 16 rows × 16 vec4s: invocation tid copies one vec4.
    let kb = k0 + tid / 16u;
    let nb = n0 + 4u * (tid % 16u);
    var b4 = vec4f(0.0);
    if (kb < params.K && nb < params.N) { b4 = b[kb * n_vecs + nb / 4u]; }
    b_tile[tid / 16u][tid % 16u] = b4;
    workgroupBarrier();

    for (var kk = 0u; kk < BK; kk++) {
      let a_col = a_tile[kk][lid.y];     // a[4y .. 4y+3, k0 + kk]
      let b_row = b_tile[kk][lid.x];     // b[k0 + kk, 4x .. 4x+3]
      acc0 = fma(vec4f(a_col.x), b_row, acc0);
      acc1 = fma(vec4f(a_col.y), b_row, acc1);
      acc2 = fma(vec4f(a_col.z), b_row, acc2);
      acc3 = fma(vec4f(a_col.w), b_row, acc3);
    }
    workgroupBarrier();
  }

  let n = n0 + 4u * lid.x;
  let m = m0 + 4u * lid.y;
  if (n < params.N) {
    let cv = n / 4u;
    if (m < params.M) { c[m * n_vecs + cv] = acc0; }
    if (m + 1u < params.M) { c[(m + 1u) * n_vecs + cv] = acc1; }
    if (m + 2u < params.M) { c[(m + 2u) * n_vecs + cv] = acc2; }
    if (m + 3u < params.M) { c[(m + 3u) * n_vecs + cv] = acc3; }
  }
}
