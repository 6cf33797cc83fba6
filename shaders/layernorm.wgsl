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

// Params, V, PER_LANE, components_sum, norm_input, and the row sum row_reduce.
#include "lib/norm_rows.wgsl"

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> weight: array<V>;
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
#if ${RESIDUAL}
@group(0) @binding(5) var<storage, read> residual: array<V>;
@group(0) @binding(6) var<storage, read_write> sum: array<V>;
#endif

fn first_component(v: V) -> f32 {
#if ${VEC4}
  return v.x;
#else
  return v;
#endif
}

@compute @workgroup_size(LANES * ROWS)
fn main(at: RowInvocation) {
  let row = row_of(at);
  let row_lane = at.lane % LANES;
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
      let value = norm_input(base + j);
      h[k] = value - shift;
      shifted_sum += components_sum(h[k]);
    }
  }
  let shifted_mean = row_reduce(shifted_sum, at) / f32(params.d);
  row_reduce_barrier();

  var squares = 0.0;
  for (var k = 0u; k < PER_LANE; k++) {
    if (live && row_lane + k * LANES < params.width) {
      let centered = h[k] - shifted_mean;
      squares += components_sum(centered * centered);
    }
  }
  let variance = row_reduce(squares, at) / f32(params.d);
  let inv_std = inverseSqrt(variance + params.eps);

  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
      out[base + j] = (h[k] - shifted_mean) * inv_std * weight[j] + bias[j];
    }
  }
}
