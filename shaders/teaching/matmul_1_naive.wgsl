// Teaching matmul, step 1 of 5: naive, one invocation per output element.
//
//   c[m, n] = Σ_k a[m, k] · b[k, n]        a: [M, K], b: [K, N], c: [M, N], row-major f32
//
// Indexing: the dispatch is a grid of ceil(N / 8) × ceil(M / 8) workgroups of 8 × 8
// invocations, so global invocation (x, y) is output column n = x, row m = y. Invocations that
// fall past the edge of c (when M or N is not a multiple of 8) return at once.
//
// Each invocation walks row m of a and column n of b: K multiply-adds, 2K loads from global
// memory. That is one 4-byte load per floating-point operation (arithmetic intensity 0.25
// FLOP/byte), and nothing is reused on purpose: the 8 invocations of a workgroup row all load
// the same a[m, k], and the 8 of a column the same b[k, n], each for itself. Whatever reuse
// happens is the caches' doing. Every faster version below is about loading each value once
// and using it many times.
//
// Consecutive invocations (x) read consecutive b[k, n], n = x: on a GPU one memory transaction
// serves a whole row of the workgroup (a "coalesced" load), which is why x is the column.
//
// Next: matmul_2_tiled.wgsl.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x;
  let m = id.y;
  if (m >= params.M || n >= params.N) { return; }
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) {
    sum += a[m * params.K + k] * b[k * params.N + n];
  }
  c[m * params.N + n] = sum;
}
