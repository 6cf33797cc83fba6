// The rows of a row kernel (layernorm, rmsnorm, softmax, argmax, topk) and their reduction.
//
// LANES invocations per row, ROWS rows per workgroup, the workgroup index folded over the grid's
// x and y; the entry point takes its builtins as one RowInvocation `at`, and row_of(at) is its row.
//
// row_reduce(p, at): merges one Partial per lane over the LANES lanes of a row (see
// src/ops/row-tiling.ts); every lane of the row gets the result. One of three ways:
//   ONE_SUBGROUP:  a row is one subgroup (LANES = the fixed subgroup size): subgroup_merge, no
//                  barrier. Best where barriers are dear (lavapipe runs a workgroup's
//                  invocations as coroutines on one CPU thread) and fine on GPUs.
//   SUBGROUPS:     a row is a workgroup (ROWS = 1) of any subgroup size: subgroup_merge, the
//                  subgroups' partials in workgroup memory, one barrier, each lane merges them.
//   WORKGROUP_TREE: no subgroups: a tree reduction over workgroup memory within each row
//                  (log₂ LANES barriers).
// The including kernel includes this file before any declaration (it enables subgroups), binds
// `params` with a field grid_x (workgroups along x), and defines the reduction:
//   alias Partial = …;                               what a lane holds (a sum, a (max, sum) pair…)
//   const IDENTITY: Partial = …;                     merge(IDENTITY, p) = p
//   fn merge(a: Partial, b: Partial) -> Partial      associative; `a` covers the lower lanes
//   fn subgroup_merge(p: Partial) -> Partial         merge over the subgroup (SUBGROUPS only)
// It must call row_reduce in uniform control flow, and call row_reduce_barrier() before
// reducing again, so that no lane overwrites the workgroup memory while another still reads the
// last result.

#if ${SUBGROUPS}
enable subgroups;
#endif

const LANES = ${LANES}u;
const ROWS = ${ROWS}u;

struct RowInvocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,  // in the workgroup: row lane / LANES, lane lane % LANES of it
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) subgroup_lane: u32,
  @builtin(subgroup_size) subgroup_size: u32,
#endif
}

fn row_of(at: RowInvocation) -> u32 {
  return (at.wid.y * params.grid_x + at.wid.x) * ROWS + at.lane / LANES;
}

#if ${ONE_SUBGROUP}
fn row_reduce(p: Partial, at: RowInvocation) -> Partial {
  return subgroup_merge(p);
}

fn row_reduce_barrier() {}
#elif ${SUBGROUPS}
// One partial per subgroup; subgroups have at least 4 invocations.
var<workgroup> subgroup_partials: array<Partial, (LANES + 3u) / 4u>;

fn row_reduce(p: Partial, at: RowInvocation) -> Partial {
  let mine = subgroup_merge(p);
  if (at.subgroup_lane == 0u) { subgroup_partials[at.lane / at.subgroup_size] = mine; }
  workgroupBarrier();
  var total = IDENTITY;
  for (var i = 0u; i < (LANES + at.subgroup_size - 1u) / at.subgroup_size; i++) { total = merge(total, subgroup_partials[i]); }
  return total;
}

fn row_reduce_barrier() { workgroupBarrier(); }
#else
var<workgroup> partials: array<Partial, LANES * ROWS>;

// The row's lanes use workgroup slots lane − lane % LANES, …
fn row_reduce(p: Partial, at: RowInvocation) -> Partial {
  let lane = at.lane;
  partials[lane] = p;
  workgroupBarrier();
  for (var step = LANES / 2u; step > 0u; step /= 2u) {
    if (lane % LANES < step) { partials[lane] = merge(partials[lane], partials[lane + step]); }
    workgroupBarrier();
  }
  return partials[lane - lane % LANES];
}

fn row_reduce_barrier() { workgroupBarrier(); }
#endif
