// One step forward of on-GPU greedy decoding: the token just chosen becomes the next step's input.
//
//   id = next[0], or (ARGMAX) the index of the largest logit, the first one on ties
//   p = position[0] + 1          (the chosen token's position)
//   ids[0] = id                  (what the next step's embedding reads)
//   history[p] = id              (read back by the host once every few steps; dropped past its end)
//   position[0] = p, kv_length[0] = p + 1
//
// A single invocation: a handful of scalar writes (and, for a small vocabulary, one scan of the
// logits, cheaper than a separate argmax dispatch), so that a decode step never waits for the
// host and many steps can be recorded into one compute pass.

#if ${ARGMAX}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
#else
@group(0) @binding(1) var<storage, read> next: array<i32>;
#endif
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> position: array<u32>;
@group(0) @binding(4) var<storage, read_write> kv_length: array<u32>;
@group(0) @binding(5) var<storage, read_write> history: array<i32>;

fn chosen() -> i32 {
#if ${ARGMAX}
  var best = 0u;
  for (var j = 1u; j < arrayLength(&logits); j++) {
    if (logits[j] > logits[best]) { best = j; }
  }
  return i32(best);
#else
  return next[0];
#endif
}

#include "lib/advance.wgsl"

@compute @workgroup_size(1)
fn main() {
  advance_to(chosen(), position[0] + 1u);
}
