// LayerNorm over the last dimension: out = (h − mean(h)) / sqrt(var(h) + eps) · weight + bias,
// where h = x, or h = x + residual (then h is also written to `sum`, the new residual stream).
//
// Layout: x, residual, out, sum are [rows, D] row-major; weight, bias are [D]. Rows are read as
// `V` = vec4<f32> when D % 4 == 0 (width = D/4 vectors per row), otherwise as f32 (width = D).
//
// Tiling: one workgroup of WORKGROUP threads per row (the row index is folded over the grid's
// x and y). Thread `lane` holds vectors lane, lane + WORKGROUP, … of its row in registers
// (PER_THREAD of them), so the row is read from memory once and the statistics take two
// passes over registers:
//   1. mean of (h − shift), with shift = h[0] of the row. The registers keep h − shift, which
//      is exact for values near the shift, and the mean is never added back: a row with mean
//      100 and std 1e-2 then loses no digits to the 100;
//   2. variance as the mean of (h − mean)², never as E[h²] − E[h]² (which cancels).
// Each pass ends in a tree reduction over workgroup memory.

struct Params {
  rows: u32,
  width: u32,     // vectors per row
  d: u32,         // scalars per row
  grid_x: u32,    // workgroups along x; row = wid.y * grid_x + wid.x
  eps: f32,
}

alias V = ${V};
const WORKGROUP = ${WORKGROUP}u;
const PER_THREAD = ${PER_THREAD}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> weight: array<V>;
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
#if ${RESIDUAL}
@group(0) @binding(5) var<storage, read> residual: array<V>;
@group(0) @binding(6) var<storage, read_write> sum: array<V>;
#endif

var<workgroup> partial: array<f32, WORKGROUP>;

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

/** Sum of `value` over the workgroup; every thread gets the total. */
fn workgroup_sum(value: f32, lane: u32) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  for (var step = WORKGROUP / 2u; step > 0u; step /= 2u) {
    if (lane < step) { partial[lane] += partial[lane + step]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // everyone has read partial[0] before the next call overwrites it
  return total;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let base = row * params.width;

#if ${RESIDUAL}
  let shift = first_component(x[base] + residual[base]);
#else
  let shift = first_component(x[base]);
#endif

  var h: array<V, PER_THREAD>;
  var shifted_sum = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let j = lane + k * WORKGROUP;
    if (j < params.width) {
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
  let shifted_mean = workgroup_sum(shifted_sum, lane) / f32(params.d);

  var squares = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    if (lane + k * WORKGROUP < params.width) {
      let centered = h[k] - shifted_mean;
      squares += components_sum(centered * centered);
    }
  }
  let inv_std = inverseSqrt(workgroup_sum(squares, lane) / f32(params.d) + params.eps);

  for (var k = 0u; k < PER_THREAD; k++) {
    let j = lane + k * WORKGROUP;
    if (j < params.width) {
      out[base + j] = (h[k] - shifted_mean) * inv_std * weight[j] + bias[j];
    }
  }
}
