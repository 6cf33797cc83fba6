// One step of an online softmax (base 2), as the decode kernels run it for each key: the running
// max m and sum l of exp2(score − m) take in one more score, and the caller updates what it has
// accumulated, acc = acc · correction + weight · value, from the returned (correction, weight).
// Both factors are computed every step, so the caller's loop has no branch
// (decode_attention.wgsl, decode_attention_project.wgsl, llama_decode_step.wgsl).

fn online_softmax_step(score: f32, m: ptr<function, f32>, l: ptr<function, f32>) -> vec2<f32> {
  let m_next = max(*m, score);
  let correction = exp2(*m - m_next);
  let weight = exp2(score - m_next);
  *l = *l * correction + weight;
  *m = m_next;
  return vec2<f32>(correction, weight);
}
