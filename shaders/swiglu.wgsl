// SwiGLU gate: out[n, i] = silu(x[n, i]) · x[n, F + i], silu(v) = v / (1 + e^−v).
//
// Layout: x [rows, 2F] (bound as gate_up) holds, in each row, the gate projection (first F
// columns) and the up projection (last F), as one matmul against the concatenated weights
// [W_gate; W_up] gives them; out is [rows, F]. One invocation per output element, the 1-D
// launch folded over x and y, a row of the grid covering `row_stride` elements.

struct Params {
  count: u32,       // rows·F
  hidden: u32,      // F
  row_stride: u32,  // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate_up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let row = i / params.hidden;
  let gate = gate_up[i + row * params.hidden];  // x[row, i % F]
  let up = gate_up[i + (row + 1u) * params.hidden];  // x[row, F + i % F]
  out[i] = gate / (1.0 + exp(-gate)) * up;
}
