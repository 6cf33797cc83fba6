// Teaching matmul, step 3 of 5: register blocking, each invocation a 4 × 4 block of outputs.
//
//   c[m, n] = Σ_k a[m, k] · b[k, n]        a: [M, K], b: [K, N], c: [M, N], row-major f32
//
// Step 2's inner loop loads 2 values from workgroup memory per multiply-add, so it is bound by
// those loads. Here each invocation computes TM × TN = 4 × 4 outputs, kept in 16 registers
// (`acc`) for the whole K loop. For every k it loads a column of 4 values of a (its 4 rows)
// and a row of 4 values of b (its 4 columns) into registers and does all 4 × 4 products:
// 8 loads for 16 multiply-adds, 4× fewer loads per flop than step 2.
//
// Tiling: a workgroup is 16 × 16 = 256 invocations and covers a BM × BN = 64 × 64 block of c;
// invocation (x, y) owns rows y·4 .. y·4+3 and columns x·4 .. x·4+3 of that block. K goes
// BK = 16 at a time through workgroup memory as in step 2, but each tile now holds 64 × 16
// (of a) and 16 × 64 (of b) values, so the 256 invocations copy 4 of each. The copy is
// arranged so that consecutive invocations read consecutive addresses (element e of a tile is
// copied by invocation e mod 256), which keeps the global loads coalesced.
//
// Global traffic: every value loaded from global memory is used 64 times (step 2: 16).
//
// Edges: as in step 2, copies outside a or b write 0 and stores outside c are skipped.
//
// Next: matmul_4_vec4.wgsl.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TM = 4u;                 // output rows per invocation
const TN = 4u;                 // output columns per invocation
const BM = 64u;                // output rows per workgroup (16 invocations × TM)
const BN = 64u;                // output columns per workgroup (16 invocations × TN)
const BK = 16u;                // k values per tile
const THREADS = 256u;          // invocations per workgroup

var<workgroup> a_tile: array<f32, BM * BK>;   // a_tile[r * BK + kk] = a[m0 + r, k0 + kk]
var<workgroup> b_tile: array<f32, BK * BN>;   // b_tile[kk * BN + j] = b[k0 + kk, n0 + j]

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let m0 = wg.y * BM;            // first row of the workgroup's block of c
  let n0 = wg.x * BN;            // first column
  let row = lid.y * TM;          // first row of this invocation's 4 × 4 block, within the tile
  let col = lid.x * TN;          // first column, within the tile

  var acc: array<array<f32, TN>, TM>;   // function-scope variables start at zero
  var a_reg: array<f32, TM>;
  var b_reg: array<f32, TN>;

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    for (var i = 0u; i < BM * BK / THREADS; i++) {
      let e = tid + i * THREADS;
      let m = m0 + e / BK;
      let k = k0 + e % BK;
      var value = 0.0;
      if (m < params.M && k < params.K) { value = a[m * params.K + k]; }
      a_tile[e] = value;
    }
    for (var i = 0u; i < BK * BN / THREADS; i++) {
      let e = tid + i * THREADS;
      let k = k0 + e / BN;
      let n = n0 + e % BN;
      var value = 0.0;
      if (k < params.K && n < params.N) { value = b[k * params.N + n]; }
      b_tile[e] = value;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < BK; kk++) {
      for (var i = 0u; i < TM; i++) { a_reg[i] = a_tile[(row + i) * BK + kk]; }
      for (var j = 0u; j < TN; j++) { b_reg[j] = b_tile[kk * BN + col + j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i][j] = fma(a_reg[i], b_reg[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + row + i;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + col + j;
      if (m < params.M && n < params.N) { c[m * params.N + n] = acc[i][j]; }
    }
  }
}
