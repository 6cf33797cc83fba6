// Row argmax: out[r] = the index of the largest x[r, j], the smallest such j on ties
// (as torch.argmax). NaN entries are not ordered and may or may not win.
//
// Layout: x f32 [rows, V] row-major, out i32 [rows].
// Tiling: one workgroup per row (row index folded over the grid's x and y). Thread `lane`
// scans j = lane, lane + WORKGROUP, … in increasing order, so keeping only strictly larger
// values keeps the first index of its maximum. A tree reduction over workgroup memory then
// merges the (value, index) pairs, preferring the larger value and, on ties, the smaller
// index. Threads with no element (V < WORKGROUP) carry the index NONE, which never wins.

struct Params {
  rows: u32,
  v: u32,
  grid_x: u32,  // workgroups along x; row = wid.y * grid_x + wid.x
}

const WORKGROUP = ${WORKGROUP}u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

var<workgroup> best_values: array<f32, WORKGROUP>;
var<workgroup> best_indices: array<u32, WORKGROUP>;

/** Whether candidate (v, i) beats (best_v, best_i) in the order: larger value, then smaller index. */
fn beats(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
  return i != NONE && (best_i == NONE || v > best_v || (v == best_v && i < best_i));
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let base = row * params.v;

  var best_v = 0.0;
  var best_i = NONE;
  for (var j = lane; j < params.v; j += WORKGROUP) {
    let v = x[base + j];
    if (best_i == NONE || v > best_v) {
      best_v = v;
      best_i = j;
    }
  }
  best_values[lane] = best_v;
  best_indices[lane] = best_i;
  workgroupBarrier();
  for (var step = WORKGROUP / 2u; step > 0u; step /= 2u) {
    if (lane < step) {
      let v = best_values[lane + step];
      let i = best_indices[lane + step];
      if (beats(v, i, best_values[lane], best_indices[lane])) {
        best_values[lane] = v;
        best_indices[lane] = i;
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    out[row] = i32(best_indices[0]);
  }
}
