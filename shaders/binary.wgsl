// Elementwise binary op: out[i] = a[i] ⊕ b[i mod |b|].
//
// `b` broadcasts over the leading dimensions of `a` (its shape is a suffix of a's shape,
// e.g. a bias [D] added to every row of [T, D]); with |b| = |a| it is a plain elementwise op.
// One invocation per element; the 1-D launch is folded over x and y (at most 65535 workgroups
// per dimension), so a row of the grid covers `ROW_STRIDE` elements.

struct Params {
  count: u32,       // elements of a and out
  b_count: u32,     // elements of b
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let x = a[i];
  let y = b[i % params.b_count];
#if ${ADD}
  out[i] = x + y;
#elif ${MUL}
  out[i] = x * y;
#endif
}
