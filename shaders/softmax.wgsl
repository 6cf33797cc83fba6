// Row softmax over the last dimension: out[r, j] = exp(x[r, j] − max_r) / Σ_k exp(x[r, k] − max_r).
//
// Layout: x and out are [rows, D] row-major.
// Tiling: one workgroup per row (row index folded over the grid's x and y). Thread `lane`
// walks elements lane, lane + WORKGROUP, … keeping an online (running max, running sum)
// pair: when the max grows, the sum so far is rescaled by exp(old max − new max), so the
// row is read once for the statistics. A tree reduction in workgroup memory merges the
// pairs the same way, then a second read writes the normalised values. Subtracting the
// max keeps every exp ≤ 1 (no overflow); −inf entries (masks) give exactly 0.

struct Params {
  rows: u32,
  d: u32,
  grid_x: u32,  // workgroups along x; row = wid.y * grid_x + wid.x
}

const WORKGROUP = ${WORKGROUP}u;
// The running max starts here rather than at −inf, so merging two empty partials never
// computes −inf − (−inf) = NaN.
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial_max: array<f32, WORKGROUP>;
var<workgroup> partial_sum: array<f32, WORKGROUP>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let base = row * params.d;

  var running_max = LOWEST;
  var running_sum = 0.0;
  for (var j = lane; j < params.d; j += WORKGROUP) {
    let v = x[base + j];
    let new_max = max(running_max, v);
    running_sum = running_sum * exp(running_max - new_max) + exp(v - new_max);
    running_max = new_max;
  }
  partial_max[lane] = running_max;
  partial_sum[lane] = running_sum;
  workgroupBarrier();
  for (var step = WORKGROUP / 2u; step > 0u; step /= 2u) {
    if (lane < step) {
      let m1 = partial_max[lane];
      let m2 = partial_max[lane + step];
      let m = max(m1, m2);
      partial_sum[lane] = partial_sum[lane] * exp(m1 - m) + partial_sum[lane + step] * exp(m2 - m);
      partial_max[lane] = m;
    }
    workgroupBarrier();
  }
  let row_max = partial_max[0];
  let inv_sum = 1.0 / partial_sum[0];

  for (var j = lane; j < params.d; j += WORKGROUP) {
    out[base + j] = exp(x[base + j] - row_max) * inv_sum;
  }
}
