// Row argmax: out[r] = the index of the largest x[r, j], the smallest such j on ties
// (as torch.argmax). NaN entries are not ordered and may or may not win.
//
// Layout: x f32 [rows, V] row-major, out i32 [rows].
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row scans j = l, l + LANES, … in increasing order (consecutive
// lanes read consecutive elements), so keeping only strictly larger values keeps the first
// index of its maximum. The lanes' (value, index) pairs are then merged, preferring the larger
// value and, on ties, the smaller index (lib/row_best.wgsl), one of the three ways of
// lib/row_reduce.wgsl (one subgroup per row: subgroupMax of the values, subgroupMin of the
// indices that hold it; subgroups and a barrier; or a workgroup tree; src/ops/row-tiling.ts picks).
// Lanes with no element (V < LANES, or a row past the last) carry the index NONE, which never
// wins. There is no early return, so barriers and subgroup operations stay in uniform control flow.
// row_of, and row_reduce for the best (value bits, index): NONE, LOWEST, beats, merge.
#include "lib/row_best.wgsl"

struct Params {
  rows: u32,
  v: u32,
  grid_x: u32,  // workgroups along x; workgroup = wid.y * grid_x + wid.x
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(LANES * ROWS)
fn main(at: RowInvocation) {
  let row_lane = at.lane % LANES;
  let row = row_of(at);
  let live = row < params.rows;
  let base = row * params.v;
  let end = select(0u, params.v, live);

  var best_v = 0.0;
  var best_i = NONE;
  for (var j = row_lane; j < end; j += LANES) {
    let v = x[base + j];
    if (best_i == NONE || v > best_v) {
      best_v = v;
      best_i = j;
    }
  }
  let best = row_reduce(vec2(bitcast<u32>(best_v), best_i), at);
  if (live && row_lane == 0u) {
    out[row] = i32(best.y);
  }
}
