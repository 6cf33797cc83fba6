// RMSNorm over the last dimension: out = h / sqrt(mean(h²) + eps) · weight,
// where h = x, or h = x + residual (then h is also written to `sum`, the new residual stream).
//
// Layout: x, residual, out, sum are [rows, D] row-major; weight is [D]. Rows are read as
// `V` = vec4<f32> when D % 4 == 0 (width = D/4 vectors per row), otherwise as f32 (width = D).
//
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row holds vectors l, l + LANES, … in registers (PER_LANE of
// them), so consecutive lanes read consecutive vectors and the row is read once: one pass
// sums the squares, a row sum totals them, and a second pass over the registers scales and
// writes. The row sum (lib/row_sum.wgsl) is done one of the three ways of lib/row_reduce.wgsl
// (one subgroup per row, subgroups and a barrier, or a workgroup tree; src/ops/row-tiling.ts
// picks).
// Lanes of a row past the last row of the grid compute on zeros and store nothing (no early
// return, so barriers and subgroup operations stay in uniform control flow).

// Params, V, PER_LANE, components_sum, norm_input, and the row sum row_reduce.
#include "lib/norm_rows.wgsl"

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> weight: array<V>;
@group(0) @binding(3) var<storage, read_write> out: array<V>;
#if ${RESIDUAL}
@group(0) @binding(4) var<storage, read> residual: array<V>;
@group(0) @binding(5) var<storage, read_write> sum: array<V>;
#endif

@compute @workgroup_size(LANES * ROWS)
fn main(at: RowInvocation) {
  let row = row_of(at);
  let row_lane = at.lane % LANES;
  let live = row < params.rows;
  let base = row * params.width;

  var h: array<V, PER_LANE>;
  var squares = 0.0;
  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
      let value = norm_input(base + j);
      h[k] = value;
      squares += components_sum(value * value);
    }
  }
  let mean_square = row_reduce(squares, at) / f32(params.d);
  let inv_rms = inverseSqrt(mean_square + params.eps);

  for (var k = 0u; k < PER_LANE; k++) {
    let j = row_lane + k * LANES;
    if (live && j < params.width) {
      out[base + j] = h[k] * inv_rms * weight[j];
    }
  }
}
