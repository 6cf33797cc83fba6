// LayerNorm over the last dimension: out = (h − mean(h)) / sqrt(var(h) + eps) · weight + bias,
// where h = x, or h = x + residual (then h is also written to `sum`, the new residual stream).
//
// Layout: x, residual, out, sum are [rows, D] row-major; weight, bias are [D]. Rows are read as
// `V` = vec4<f32> when D % 4 == 0 (width = D/4 vectors per row), otherwise as f32 (width = D).
//
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row holds vectors l, l + LANES, … in registers (PER_LANE of
// them), so consecutive lanes read consecutive vectors and the row is read from memory once.
// The statistics take two passes over registers:
//   1. mean of (h − shift), with shift = h[0] of the row. The registers keep h − shift, which
//      is exact for values near the shift, and the mean is never added back: a row with mean
//      100 and std 1e-2 then loses no digits to the 100;
//   2. variance as the mean of (h − mean)², never as E[h²] − E[h]² (which cancels).
// Each pass ends in a row sum (`row_sum`), done one of three ways (src/ops/row-tiling.ts picks):
//   ONE_SUBGROUP:  a row is one subgroup (LANES = the fixed subgroup size): one subgroupAdd,
//                  no barrier. Best where barriers are dear (lavapipe runs a workgroup's
//                  invocations as coroutines on one CPU thread) and fine on GPUs.
//   SUBGROUPS:     a row is a workgroup (ROWS = 1) of any subgroup size: subgroupAdd, the
//                  subgroups' totals in workgroup memory, one barrier, each lane adds them up.
//   WORKGROUP_TREE: no subgroups: a tree reduction over workgroup memory within each row.
// Lanes of a row past the last row of the grid compute on zeros and store nothing (no early
// return, so barriers and subgroup operations stay in uniform control flow).
#if ${SUBGROUPS}
enable subgroups;
#endif

struct Params {
  rows: u32,
  width: u32,     // vectors per row
  d: u32,         // scalars per row
  grid_x: u32,    // workgroups along x; workgroup = wid.y * grid_x + wid.x
  eps: f32,
}

alias V = ${V};
const LANES = ${LANES}u;
const ROWS = ${ROWS}u;
const PER_LANE = ${PER_LANE}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> weight: array<V>;
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
#if ${RESIDUAL}
@group(0) @binding(5) var<storage, read> residual: array<V>;
@group(0) @binding(6) var<storage, read_write> sum: array<V>;
#endif

/** Sum of a vector's components. */
fn components_sum(v: V) -> f32 {
#if ${VEC4}
  return dot(v, vec4<f32>(1.0));
#else
  return v;
#endif
}

fn first_component(v: V) -> f32 {
#if ${VEC4}
  return v.x;
#else
  return v;
#endif
}

#if ${ONE_SUBGROUP}
/** Sum of `value` over the row's lanes (= its subgroup); every lane gets the total. */
fn row_sum(value: f32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> f32 {
  return subgroupAdd(value);
}
#elif ${SUBGROUPS}
// One total per subgroup; subgroups have at least 4 invocations.
var<workgroup> subgroup_totals: array<f32, (LANES + 3u) / 4u>;

/** Sum of `value` over the row's lanes (= the workgroup); every lane gets the total. */
fn row_sum(value: f32, lane: u32, subgroup_lane: u32, subgroup_size: u32) -> f32 {
  let subgroup_total = subgroupAdd(value);
  if (subgroup_lane == 0u) { subgroup_totals[lane / subgroup_size] = subgroup_total; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < (LANES + subgroup_size - 1u) / subgroup_size; i++) { total += subgroup_totals[i]; }
  workgroupBarrier(); // everyone has read the totals before the next call overwrites them
  return total;
}
#else
var<workgroup> partial: array<f32, LANES * ROWS>;

/** Sum of `value` over the row's lanes (workgroup slots lane − lane % LANES, …); every lane gets the total. */
fn row_sum(value: f32, lane: u32) -> f32 {
  let first = lane - lane % LANES;
  partial[lane] = value;
  workgroupBarrier();
  for (var step = LANES / 2u; step > 0u; step /= 2u) {
    if (lane % LANES < step) { partial[lane] += partial[lane + step]; }
    workgroupBarrier();
  }
  let total = partial[first];
  workgroupBarrier(); // everyone has read the total before the next call overwrites it
  return total;
}
#endif

@compute @workgroup_size(LANES * ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32,
#if ${SUBGROUPS}
        @builtin(subgroup_invocation_id) subgroup_lane: u32, @builtin(subgroup_size) subgroup_size: u32,
#endif
) {
  let row = (wid.y * params.grid_x + wid.x) * ROWS + lane / LANES;
  let row_lane = lane % LANES;
  let live = row < params.rows;
  let base = row * params.width;

  var shift = 0.0;
  if (live) {
#if ${RESIDUAL}
    shift = first_component(x[base] + residual[base]);
#else
    shift = first_component(x[base]);
#endif
  }

  var h: array<V, PER_LANE>;
  var shifted_sum = 0.0;
  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
#if ${RESIDUAL}
      let value = x[base + j] + residual[base + j];
      sum[base + j] = value;
#else
      let value = x[base + j];
#endif
      h[k] = value - shift;
      shifted_sum += components_sum(h[k]);
    }
  }
#if ${SUBGROUPS}
  let shifted_mean = row_sum(shifted_sum, lane, subgroup_lane, subgroup_size) / f32(params.d);
#else
  let shifted_mean = row_sum(shifted_sum, lane) / f32(params.d);
#endif

  var squares = 0.0;
  for (var k = 0u; k < PER_LANE; k++) {
    if (live && row_lane + k * LANES < params.width) {
      let centered = h[k] - shifted_mean;
      squares += components_sum(centered * centered);
    }
  }
#if ${SUBGROUPS}
  let variance = row_sum(squares, lane, subgroup_lane, subgroup_size) / f32(params.d);
#else
  let variance = row_sum(squares, lane) / f32(params.d);
#endif
  let inv_std = inverseSqrt(variance + params.eps);

  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
      out[base + j] = (h[k] - shifted_mean) * inv_std * weight[j] + bias[j];
    }
  }
}
