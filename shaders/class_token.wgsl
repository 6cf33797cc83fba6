// ViT token sequence: prepend the class token to the patch embeddings and add position embeddings,
//   out[b, 0, :] = cls[:]              + positions[0, :]
//   out[b, t, :] = patches[b, t − 1, :] + positions[t, :]     for t = 1 … N
// Layout: patches [B, N, D], cls [D], positions [N + 1, D], out [B, N + 1, D], all row-major.
// One invocation per output element; the 1-D launch is folded over x and y (at most 65535
// workgroups per dimension), so a row of the dispatch grid covers `row_stride` elements.

struct Params {
  count: u32,       // B·(N + 1)·D output elements
  tokens: u32,      // N + 1
  dim: u32,         // D
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> patches: array<f32>;
@group(0) @binding(2) var<storage, read> cls: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let d = i % params.dim;
  let row = i / params.dim;               // b·(N + 1) + t
  let t = row % params.tokens;
  let b = row / params.tokens;
  var x: f32;
  if (t == 0u) {
    x = cls[d];
  } else {
    x = patches[(b * (params.tokens - 1u) + t - 1u) * params.dim + d];
  }
  out[i] = x + positions[t * params.dim + d];
}
