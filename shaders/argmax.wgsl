// Row argmax: out[r] = the index of the largest x[r, j], the smallest such j on ties
// (as torch.argmax). NaN entries are not ordered and may or may not win.
//
// Layout: x f32 [rows, V] row-major, out i32 [rows].
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row scans j = l, l + LANES, … in increasing order (consecutive
// lanes read consecutive elements), so keeping only strictly larger values keeps the first
// index of its maximum. The lanes' (value, index) pairs are then merged, preferring the larger
// value and, on ties, the smaller index, one of three ways (src/ops/row-tiling.ts picks):
//   ONE_SUBGROUP:  a row is one subgroup (LANES = the fixed subgroup size): subgroupMax of the
//                  values, subgroupMin of the indices that hold it, no barrier. Best where
//                  barriers are dear (lavapipe runs a workgroup's invocations as coroutines on
//                  one CPU thread) and fine on GPUs.
//   SUBGROUPS:     a row is a workgroup (ROWS = 1) of any subgroup size: each subgroup merges
//                  its pairs as above, the subgroups' pairs go to workgroup memory, one
//                  barrier, each lane merges them.
//   WORKGROUP_TREE: no subgroups: a tree reduction over workgroup memory within each row.
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
const NONE = 0xffffffffu;
// Lanes with no candidate take part in subgroupMax with this value.
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

/** Whether candidate (v, i) beats (best_v, best_i) in the order: larger value, then smaller index. */
fn beats(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
  return i != NONE && (best_i == NONE || v > best_v || (v == best_v && i < best_i));
}

#if ${SUBGROUPS}
/** The subgroup's best (value bits, index); every lane gets it. */
fn subgroup_best(v: f32, i: u32) -> vec2<u32> {
  let best_v = subgroupMax(select(LOWEST, v, i != NONE));
  let best_i = subgroupMin(select(NONE, i, i != NONE && v == best_v));
  // No lane holds the max when it is NaN, or when every element is below LOWEST (−inf): then
  // the smallest index is right for the −inf case, and any index will do for NaN.
  let picked = select(best_i, subgroupMin(i), best_i == NONE);
  // Indices are unique, so exactly one lane holds the picked one and sends its value's bits.
  return vec2(subgroupOr(select(0u, bitcast<u32>(v), i == picked && i != NONE)), picked);
}
#endif

/** The row's best (value bits, index) from one lane's pair; every lane of the row gets it. */
#if ${ONE_SUBGROUP}
fn row_best(v: f32, i: u32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> vec2<u32> {
  return subgroup_best(v, i);
}
#elif ${SUBGROUPS}
// One pair per subgroup; subgroups have at least 4 invocations.
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
  workgroupBarrier(); // everyone has read the pairs before the next call overwrites them
  return best;
}
#else
var<workgroup> best_values: array<f32, LANES * ROWS>;
var<workgroup> best_indices: array<u32, LANES * ROWS>;

fn row_best(v: f32, i: u32, lane: u32) -> vec2<u32> {
  best_values[lane] = v;
  best_indices[lane] = i;
  workgroupBarrier();
  for (var step = LANES / 2u; step > 0u; step /= 2u) {
    if (lane % LANES < step) {
      let other_v = best_values[lane + step];
      let other_i = best_indices[lane + step];
      if (beats(other_v, other_i, best_values[lane], best_indices[lane])) {
        best_values[lane] = other_v;
        best_indices[lane] = other_i;
      }
    }
    workgroupBarrier();
  }
  let first = lane - lane % LANES;
  let best = vec2(bitcast<u32>(best_values[first]), best_indices[first]);
  workgroupBarrier(); // everyone has read the winner before the next call overwrites it
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
  let best = row_best(best_v, best_i, lane, subgroup_lane, subgroup_size);
#else
  let best = row_best(best_v, best_i, lane);
#endif
  if (live && lane % LANES == 0u) {
    out[row] = i32(best.y);
  }
}
