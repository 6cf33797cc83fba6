// The row sum for row_reduce (lib/row_reduce.wgsl): row_reduce(value, at) is the sum of
// `value` over the row's lanes (layernorm.wgsl, rmsnorm.wgsl).

#include "lib/row_reduce.wgsl"

alias Partial = f32;
const IDENTITY: Partial = 0.0;

fn merge(a: f32, b: f32) -> f32 { return a + b; }

#if ${SUBGROUPS}
fn subgroup_merge(p: f32) -> f32 { return subgroupAdd(p); }
#endif
