// Swap the two middle axes of a rank-4 tensor: out[b, y, x, :] = in[b, x, y, :].
// Attention heads use it both ways: [B, T, H, d] → [B, H, T, d] gives each head a contiguous
// [T, d] block, so scores and the weighted sum become batched matmuls, and [B, H, T, d] →
// [B, T, H, d] merges the heads back into rows of H·d.
// Layout: in [B, X, Y, D], out [B, Y, X, D], row-major. One invocation per output element; the
// 1-D launch is folded over x and y (at most 65535 workgroups per dimension), so a row of the
// dispatch grid covers `row_stride` elements.

struct Params {
  count: u32,       // B·X·Y·D elements
  dim_x: u32,       // X
  dim_y: u32,       // Y
  dim_d: u32,       // D, the contiguous innermost axis
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  // i = ((b·Y + y)·X + x)·D + d in the output
  let d = i % params.dim_d;
  let x = (i / params.dim_d) % params.dim_x;
  let y = (i / (params.dim_d * params.dim_x)) % params.dim_y;
  let b = i / (params.dim_d * params.dim_x * params.dim_y);
  out[i] = src[((b * params.dim_x + x) * params.dim_y + y) * params.dim_d + d];
}
