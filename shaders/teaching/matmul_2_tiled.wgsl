// Teaching matmul, step 2 of 5: workgroup tiling (shared-memory tiles).
//
//   c[m, n] = Σ_k a[m, k] · b[k, n]        a: [M, K], b: [K, N], c: [M, N], row-major f32
//
// A workgroup of TILE × TILE invocations computes a TILE × TILE block of c, one output per
// invocation as in step 1: invocation (col, row) of workgroup (wx, wy) owns
// c[wy·TILE + row, wx·TILE + col]. What changes is where the operands come from.
//
// The K loop goes TILE at a time. In each step the workgroup copies two tiles into workgroup
// memory (on-chip, shared by the workgroup's invocations):
//   a_tile = a[rows of this block, k0 .. k0+TILE)     b_tile = b[k0 .. k0+TILE, columns of this block)
// every invocation copying one element of each. After a barrier (all copies done) each
// invocation does TILE multiply-adds from the tiles, and a second barrier keeps the next copy
// from overwriting a tile that others still read.
//
// Each value loaded from global memory is now used TILE times (by the TILE invocations of a
// tile row or column), so global traffic drops by a factor of TILE. The inner loop still
// loads two values (now from workgroup memory) per multiply-add.
//
// Edges: where the tile hangs over the end of a or b (M, N or K not a multiple of TILE), the
// copy writes 0, which adds nothing to the sums; outputs outside c are not stored. No
// invocation returns early: every invocation must reach every barrier.
//
// Next: matmul_3_register_blocked.wgsl.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE = 16u;

var<workgroup> a_tile: array<array<f32, TILE>, TILE>;   // a_tile[row][kk] = a[m0 + row, k0 + kk]
var<workgroup> b_tile: array<array<f32, TILE>, TILE>;   // b_tile[kk][col] = b[k0 + kk, n0 + col]

@compute @workgroup_size(TILE, TILE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = lid.y;
  let col = lid.x;
  let m = wg.y * TILE + row;
  let n = wg.x * TILE + col;

  var sum = 0.0;
  for (var k0 = 0u; k0 < params.K; k0 += TILE) {
    // This invocation copies a[m, k0 + col] and b[k0 + row, n] (0 outside the matrices).
    var a_value = 0.0;
    if (m < params.M && k0 + col < params.K) { a_value = a[m * params.K + k0 + col]; }
    a_tile[row][col] = a_value;
    var b_value = 0.0;
    if (k0 + row < params.K && n < params.N) { b_value = b[(k0 + row) * params.N + n]; }
    b_tile[row][col] = b_value;
    workgroupBarrier();

    for (var kk = 0u; kk < TILE; kk++) {
      sum += a_tile[row][kk] * b_tile[kk][col];
    }
    workgroupBarrier();
  }

  if (m < params.M && n < params.N) {
    c[m * params.N + n] = sum;
  }
}
