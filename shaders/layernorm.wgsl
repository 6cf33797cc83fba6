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
// Each pass ends in a row sum (lib/row_sum.wgsl), done one of the three ways of
// lib/row_reduce.wgsl (one subgroup per row, subgroups and a barrier, or a workgroup tree;
// src/ops/row-tiling.ts picks).
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

#include "lib/row_sum.wgsl"

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
  let shifted_mean = row_reduce(shifted_sum, lane, subgroup_lane, subgroup_size) / f32(params.d);
#else
  let shifted_mean = row_reduce(shifted_sum, lane) / f32(params.d);
#endif
  row_reduce_barrier();

  var squares = 0.0;
  for (var k = 0u; k < PER_LANE; k++) {
    if (live && row_lane + k * LANES < params.width) {
      let centered = h[k] - shifted_mean;
      squares += components_sum(centered * centered);
    }
  }
#if ${SUBGROUPS}
  let variance = row_reduce(squares, lane, subgroup_lane, subgroup_size) / f32(params.d);
#else
  let variance = row_reduce(squares, lane) / f32(params.d);
#endif
  let inv_std = inverseSqrt(variance + params.eps);

  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
      out[base + j] = (h[k] - shifted_mean) * inv_std * weight[j] + bias[j];
    }
  }
}
