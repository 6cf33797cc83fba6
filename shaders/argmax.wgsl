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
#if ${SUBGROUPS}
enable subgroups;
#endif

struct Params {
  rows: u32,
  v: u32,
  grid_x: u32,  // workgroups along x; workgroup = wid.y * grid_x + wid.x
}

const LANES = ${LANES}u;
const ROWS = ${ROWS}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

#include "lib/row_best.wgsl"

@compute @workgroup_size(LANES * ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32,
#if ${SUBGROUPS}
        @builtin(subgroup_invocation_id) subgroup_lane: u32, @builtin(subgroup_size) subgroup_size: u32,
#endif
) {
  let row = (wid.y * params.grid_x + wid.x) * ROWS + lane / LANES;
  let live = row < params.rows;
  let base = row * params.v;
  let end = select(0u, params.v, live);

  var best_v = 0.0;
  var best_i = NONE;
  for (var j = lane % LANES; j < end; j += LANES) {
    let v = x[base + j];
    if (best_i == NONE || v > best_v) {
      best_v = v;
      best_i = j;
    }
  }
#if ${SUBGROUPS}
  let best = row_reduce(vec2(bitcast<u32>(best_v), best_i), lane, subgroup_lane, subgroup_size);
#else
  let best = row_reduce(vec2(bitcast<u32>(best_v), best_i), lane);
#endif
  if (live && lane % LANES == 0u) {
    out[row] = i32(best.y);
  }
}
