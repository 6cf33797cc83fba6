// Row top-k: the K largest values of each row, in descending order, with their indices
// (the smaller index first among equal values, so k = 1 agrees with argmax).
//
// Layout: x f32 [rows, V] row-major; values f32 [rows, K], indices i32 [rows, K].
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y), in two phases.
//   1. Lane `l` of a row scans j = l, l + LANES, … (consecutive lanes read consecutive
//      elements) and keeps its own top K in registers, a list sorted descending, by
//      insertion: an element enters only if it is strictly larger than the list's last
//      (scanning j upwards, ties keep the earlier j).
//   2. K rounds of merging: each lane offers the head of its list, the row picks the best
//      offer (larger value, then smaller index), lane 0 of the row writes it, and the lane
//      that offered it moves its head on. The pick (lib/row_best.wgsl) is done one of the
//      three ways of lib/row_reduce.wgsl (one subgroup per row: subgroupMax of the values,
//      subgroupMin of the indices that hold it; subgroups and a barrier; or a workgroup tree;
//      src/ops/row-tiling.ts picks).
// A lane whose list is used up (or that has no row) offers index NONE, which never wins;
// K ≤ V is checked on the CPU, so every round has a winner. There is no early return, so
// barriers and subgroup operations stay in uniform control flow.
// row_of, and row_reduce for the best (value bits, index): NONE, LOWEST, beats, merge.
#include "lib/row_best.wgsl"

struct Params {
  rows: u32,
  v: u32,
  grid_x: u32,  // workgroups along x; workgroup = wid.y * grid_x + wid.x
}

const K = ${K}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

@compute @workgroup_size(LANES * ROWS)
fn main(at: RowInvocation) {
  let row_lane = at.lane % LANES;
  let row = row_of(at);
  let live = row < params.rows;
  let base = row * params.v;
  let end = select(0u, params.v, live);

  // Phase 1: this lane's top K, sorted descending.
  var top_values: array<f32, K>;
  var top_indices: array<u32, K>;
  var filled = 0u;
  for (var j = row_lane; j < end; j += LANES) {
    let v = x[base + j];
    if (filled < K || v > top_values[K - 1u]) {
      var at = min(filled, K - 1u);
      while (at > 0u && top_values[at - 1u] < v) {
        top_values[at] = top_values[at - 1u];
        top_indices[at] = top_indices[at - 1u];
        at--;
      }
      top_values[at] = v;
      top_indices[at] = j;
      filled = min(filled + 1u, K);
    }
  }

  // Phase 2: K rounds, each taking the best head among the row's lanes' lists.
  var head = 0u;
  for (var rank = 0u; rank < K; rank++) {
    let offer_v = select(0.0, top_values[min(head, K - 1u)], head < filled);
    let offer_i = select(NONE, top_indices[min(head, K - 1u)], head < filled);
    let best = row_reduce(vec2(bitcast<u32>(offer_v), offer_i), at);
    row_reduce_barrier();  // everyone has read the winner before the next round's offers
    if (live && row_lane == 0u) {
      values[row * K + rank] = bitcast<f32>(best.x);
      indices[row * K + rank] = i32(best.y);
    }
    if (head < filled && top_indices[head] == best.y) { head++; }
  }
}
