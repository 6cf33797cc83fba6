// Row softmax over the last dimension: out[r, j] = exp(x[r, j] − max_r) / Σ_k exp(x[r, k] − max_r).
//
// Layout: x and out are [rows, D] row-major.
// Tiling: LANES invocations per row, ROWS rows per workgroup (workgroup index folded over the
// grid's x and y). Lane `l` of a row walks elements l, l + LANES, … (consecutive lanes read
// consecutive elements) keeping an online (running max, running sum) pair: when the max
// grows, the sum so far is rescaled by exp(old max − new max), so the row is read once for
// the statistics. The lanes' pairs are then merged the same way (`merge`), one of the three
// ways of lib/row_reduce.wgsl (one subgroup per row: subgroupMax of the maxima, subgroupAdd of
// the rescaled sums; subgroups and a barrier; or a workgroup tree; src/ops/row-tiling.ts picks).
// A second read writes the normalised values. Subtracting the max keeps every exp ≤ 1 (no
// overflow); −inf entries (masks) give exactly 0. Lanes of a row past the last row of the grid
// read nothing and store nothing (no early return, so barriers and subgroup operations stay
// in uniform control flow).
// row_of, and row_reduce over the merge below.
#include "lib/row_reduce.wgsl"

struct Params {
  rows: u32,
  d: u32,
  grid_x: u32,  // workgroups along x; workgroup = wid.y * grid_x + wid.x
}

// The running max starts here rather than at −inf, so merging two empty partials never
// computes −inf − (−inf) = NaN.
const LOWEST = -3.402823466e38;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// A row's statistics (max, Σ exp(x − max)) for row_reduce.
alias Partial = vec2<f32>;
const IDENTITY: Partial = vec2(LOWEST, 0.0);

fn merge(a: Partial, b: Partial) -> Partial {
  let m = max(a.x, b.x);
  return vec2(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

#if ${SUBGROUPS}
fn subgroup_merge(p: Partial) -> Partial {
  let m = subgroupMax(p.x);
  return vec2(m, subgroupAdd(p.y * exp(p.x - m)));
}
#endif

@compute @workgroup_size(LANES * ROWS)
fn main(at: RowInvocation) {
  let row_lane = at.lane % LANES;
  let row = row_of(at);
  let live = row < params.rows;
  let base = row * params.d;
  let end = select(0u, params.d, live);

  var running_max = LOWEST;
  var running_sum = 0.0;
  for (var j = row_lane; j < end; j += LANES) {
    let v = x[base + j];
    let new_max = max(running_max, v);
    running_sum = running_sum * exp(running_max - new_max) + exp(v - new_max);
    running_max = new_max;
  }
  let stats = row_reduce(vec2(running_max, running_sum), at);
  let inv_sum = 1.0 / stats.y;

  for (var j = row_lane; j < end; j += LANES) {
    out[base + j] = exp(x[base + j] - stats.x) * inv_sum;
  }
}
