// What layernorm.wgsl and rmsnorm.wgsl share: their uniforms, rows of `V` (vec4<f32> with VEC4,
// else f32), each lane's PER_LANE vectors of a row, the row sum (lib/row_sum.wgsl), and the
// norm's input h = x or x + residual. The including kernel binds params, x and, with RESIDUAL,
// residual and sum; it includes this file before any declaration.

#include "lib/row_sum.wgsl"

struct Params {
  rows: u32,
  width: u32,     // vectors per row
  d: u32,         // scalars per row
  grid_x: u32,    // workgroups along x; workgroup = wid.y * grid_x + wid.x
  eps: f32,
}

alias V = ${V};
const PER_LANE = ${PER_LANE}u;

/** Sum of a vector's components. */
fn components_sum(v: V) -> f32 {
#if ${VEC4}
  return dot(v, vec4<f32>(1.0));
#else
  return v;
#endif
}

/** h[i] = x[i], or x[i] + residual[i], which is then also written to sum[i] (the new residual stream). */
fn norm_input(i: u32) -> V {
#if ${RESIDUAL}
  let value = x[i] + residual[i];
  sum[i] = value;
  return value;
#else
  return x[i];
#endif
}
