// Row softmax over the last dimension: out[r, j] = exp(x[r, j] − max_r) / Σ_k exp(x[r, k] − max_r).
//
// Layout: x and out are [rows, D] row-major.
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row walks elements l, l + LANES, … (consecutive lanes read
// consecutive elements) keeping an online (running max, running sum) pair: when the max
// grows, the sum so far is rescaled by exp(old max − new max), so the row is read once for
// the statistics. The lanes' pairs are then merged the same way, one of three ways
// (src/ops/row-tiling.ts picks):
//   ONE_SUBGROUP:  a row is one subgroup (LANES = the fixed subgroup size): subgroupMax of
//                  the maxima, subgroupAdd of the rescaled sums, no barrier. Best where
//                  barriers are dear (lavapipe runs a workgroup's invocations as coroutines on
//                  one CPU thread) and fine on GPUs.
//   SUBGROUPS:     a row is a workgroup (ROWS = 1) of any subgroup size: each subgroup merges
//                  its pairs as above, the subgroups' pairs go to workgroup memory, one
//                  barrier, each lane merges them.
//   WORKGROUP_TREE: no subgroups: a tree reduction over workgroup memory within each row.
// A second read writes the normalised values. Subtracting the max keeps every exp ≤ 1 (no
// overflow); −inf entries (masks) give exactly 0. Lanes of a row past the last row of the grid
// read nothing and store nothing (no early return, so barriers and subgroup operations stay
// in uniform control flow).
#if ${SUBGROUPS}
enable subgroups;
#endif

struct Params {
  rows: u32,
  d: u32,
  grid_x: u32,  // workgroups along x; workgroup = wid.y * grid_x + wid.x
}

const LANES = ${LANES}u;
const ROWS = ${ROWS}u;
// The running max starts here rather than at −inf, so merging two empty partials never
// computes −inf − (−inf) = NaN.
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

/** The row's (max, Σ exp(x − max)) from one lane's running pair; every lane gets it. */
#if ${ONE_SUBGROUP}
fn row_stats(running_max: f32, running_sum: f32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> vec2<f32> {
  let m = subgroupMax(running_max);
  return vec2(m, subgroupAdd(running_sum * exp(running_max - m)));
}
#elif ${SUBGROUPS}
// One (max, sum) pair per subgroup; subgroups have at least 4 invocations.
var<workgroup> subgroup_stats: array<vec2<f32>, (LANES + 3u) / 4u>;

fn row_stats(running_max: f32, running_sum: f32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> vec2<f32> {
  let subgroup_max = subgroupMax(running_max);
  let subgroup_sum = subgroupAdd(running_sum * exp(running_max - subgroup_max));
  if (subgroup_lane == 0u) { subgroup_stats[lane / subgroup_size] = vec2(subgroup_max, subgroup_sum); }
  workgroupBarrier();
  var m = LOWEST;
  var s = 0.0;
  for (var i = 0u; i < (LANES + subgroup_size - 1u) / subgroup_size; i++) {
    let other = subgroup_stats[i];
    let new_max = max(m, other.x);
    s = s * exp(m - new_max) + other.y * exp(other.x - new_max);
    m = new_max;
  }
  return vec2(m, s);
}
#else
var<workgroup> partial_max: array<f32, LANES * ROWS>;
var<workgroup> partial_sum: array<f32, LANES * ROWS>;

fn row_stats(running_max: f32, running_sum: f32, lane: u32) -> vec2<f32> {
  partial_max[lane] = running_max;
  partial_sum[lane] = running_sum;
  workgroupBarrier();
  for (var step = LANES / 2u; step > 0u; step /= 2u) {
    if (lane % LANES < step) {
      let m1 = partial_max[lane];
      let m2 = partial_max[lane + step];
      let m = max(m1, m2);
      partial_sum[lane] = partial_sum[lane] * exp(m1 - m) + partial_sum[lane + step] * exp(m2 - m);
      partial_max[lane] = m;
    }
    workgroupBarrier();
  }
  let first = lane - lane % LANES;
  return vec2(partial_max[first], partial_sum[first]);
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
  let base = row * params.d;
  let end = select(0u, params.d, live);

  var running_max = LOWEST;
  var running_sum = 0.0;
  for (var j = lane % LANES; j < end; j += LANES) {
    let v = x[base + j];
    let new_max = max(running_max, v);
    running_sum = running_sum * exp(running_max - new_max) + exp(v - new_max);
    running_max = new_max;
  }
#if ${SUBGROUPS}
  let stats = row_stats(running_max, running_sum, lane, subgroup_lane, subgroup_size);
#else
  let stats = row_stats(running_max, running_sum, lane);
#endif
  let inv_sum = 1.0 / stats.y;

  for (var j = lane % LANES; j < end; j += LANES) {
    out[base + j] = exp(x[base + j] - stats.x) * inv_sum;
  }
}
