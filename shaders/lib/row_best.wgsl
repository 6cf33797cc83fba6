// The row's best candidate for row_reduce (lib/row_reduce.wgsl), as in torch.argmax: the larger
// value, and on ties the smaller index (argmax.wgsl, topk.wgsl). A Partial is (the value's
// bits, its index); a lane with no candidate holds the index NONE, which never wins.

#include "lib/row_reduce.wgsl"

const NONE = 0xffffffffu;
// Lanes with no candidate take part in subgroupMax with this value.
const LOWEST = -3.402823466e38;

alias Partial = vec2<u32>;
const IDENTITY: Partial = vec2(0u, NONE);

/** Whether candidate (v, i) beats (best_v, best_i) in the order: larger value, then smaller index. */
fn beats(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
  return i != NONE && (best_i == NONE || v > best_v || (v == best_v && i < best_i));
}

fn merge(a: Partial, b: Partial) -> Partial {
  return select(a, b, beats(bitcast<f32>(b.x), b.y, bitcast<f32>(a.x), a.y));
}

#if ${SUBGROUPS}
/** The subgroup's best (value bits, index); every lane gets it. */
fn subgroup_merge(p: Partial) -> Partial {
  let v = bitcast<f32>(p.x);
  let i = p.y;
  let best_v = subgroupMax(select(LOWEST, v, i != NONE));
  let best_i = subgroupMin(select(NONE, i, i != NONE && v == best_v));
  // No lane holds the max when it is NaN, or when every candidate is below LOWEST (−inf): then
  // the smallest index is right for the −inf case, and any index will do for NaN.
  let picked = select(best_i, subgroupMin(i), best_i == NONE);
  // Indices are unique, so exactly one lane holds the picked one and sends its value's bits.
  return vec2(subgroupOr(select(0u, p.x, i == picked && i != NONE)), picked);
}
#endif
