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
//      that offered it moves its head on. The pick is done one of three ways
//      (src/ops/row-tiling.ts picks):
//        ONE_SUBGROUP:  a row is one subgroup (LANES = the fixed subgroup size): subgroupMax
//                       of the values, subgroupMin of the indices that hold it, no barrier.
//                       Best where barriers are dear (lavapipe runs a workgroup's
//                       invocations as coroutines on one CPU thread) and fine on GPUs.
//        SUBGROUPS:     a row is a workgroup (ROWS = 1) of any subgroup size: each subgroup
//                       picks as above, the subgroups' picks go to workgroup memory, one
//                       barrier, each lane picks among them.
//        WORKGROUP_TREE: no subgroups: a tree reduction over workgroup memory within each row.
// A lane whose list is used up (or that has no row) offers index NONE, which never wins;
// K ≤ V is checked on the CPU, so every round has a winner. There is no early return, so
// barriers and subgroup operations stay in uniform control flow.
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
const K = ${K}u;
const NONE = 0xffffffffu;
// Lanes with no candidate take part in subgroupMax with this value.
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

/** Whether candidate (v, i) beats (best_v, best_i) in the order: larger value, then smaller index. */
fn beats(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
  return i != NONE && (best_i == NONE || v > best_v || (v == best_v && i < best_i));
}

#if ${SUBGROUPS}
/** The subgroup's best (value bits, index); every lane gets it. */
fn subgroup_best(v: f32, i: u32) -> vec2<u32> {
  let best_v = subgroupMax(select(LOWEST, v, i != NONE));
  let best_i = subgroupMin(select(NONE, i, i != NONE && v == best_v));
  // No lane holds the max when it is NaN, or when every offer is below LOWEST (−inf): then
  // the smallest index is right for the −inf case, and any index will do for NaN.
  let picked = select(best_i, subgroupMin(i), best_i == NONE);
  // Indices are unique, so exactly one lane holds the picked one and sends its value's bits.
  return vec2(subgroupOr(select(0u, bitcast<u32>(v), i == picked && i != NONE)), picked);
}
#endif

/** The row's best (value bits, index) among its lanes' offers; every lane of the row gets it. */
#if ${ONE_SUBGROUP}
fn row_best(v: f32, i: u32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> vec2<u32> {
  return subgroup_best(v, i);
}
#elif ${SUBGROUPS}
// One pick per subgroup; subgroups have at least 4 invocations.
var<workgroup> subgroup_bests: array<vec2<u32>, (LANES + 3u) / 4u>;

fn row_best(v: f32, i: u32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> vec2<u32> {
  let mine = subgroup_best(v, i);
  if (subgroup_lane == 0u) { subgroup_bests[lane / subgroup_size] = mine; }
  workgroupBarrier();
  var best = vec2(0u, NONE);
  for (var s = 0u; s < (LANES + subgroup_size - 1u) / subgroup_size; s++) {
    let other = subgroup_bests[s];
    if (beats(bitcast<f32>(other.x), other.y, bitcast<f32>(best.x), best.y)) { best = other; }
  }
  workgroupBarrier(); // everyone has read the picks before the next round overwrites them
  return best;
}
#else
var<workgroup> offer_values: array<f32, LANES * ROWS>;
var<workgroup> offer_indices: array<u32, LANES * ROWS>;

fn row_best(v: f32, i: u32, lane: u32) -> vec2<u32> {
  offer_values[lane] = v;
  offer_indices[lane] = i;
  workgroupBarrier();
  for (var step = LANES / 2u; step > 0u; step /= 2u) {
    if (lane % LANES < step) {
      let other_v = offer_values[lane + step];
      let other_i = offer_indices[lane + step];
      if (beats(other_v, other_i, offer_values[lane], offer_indices[lane])) {
        offer_values[lane] = other_v;
        offer_indices[lane] = other_i;
      }
    }
    workgroupBarrier();
  }
  let first = lane - lane % LANES;
  let best = vec2(bitcast<u32>(offer_values[first]), offer_indices[first]);
  workgroupBarrier(); // everyone has read the winner before the next round's offers overwrite it
  return best;
}
#endif

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

  // Phase 1: this lane's top K, sorted descending.
  var top_values: array<f32, K>;
  var top_indices: array<u32, K>;
  var filled = 0u;
  for (var j = lane % LANES; j < end; j += LANES) {
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
#if ${SUBGROUPS}
    let best = row_best(offer_v, offer_i, lane, subgroup_lane, subgroup_size);
#else
    let best = row_best(offer_v, offer_i, lane);
#endif
    if (live && lane % LANES == 0u) {
      values[row * K + rank] = bitcast<f32>(best.x);
      indices[row * K + rank] = i32(best.y);
    }
    if (head < filled && top_indices[head] == best.y) { head++; }
  }
}
