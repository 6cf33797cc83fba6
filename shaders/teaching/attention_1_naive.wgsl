// Teaching attention, step 1: naive, one invocation per (query row, head), three passes over the keys.
//
//   out[b, i, h, :] = Σ_j softmax_j(q[b, i, h, :] · k[b, j, h, :] · scale) · v[b, j, h, :]
//
// Layout: q, k, v and out are [B, T, H·D] (heads side by side in each row), as attentionOp takes
// them; no masks, no grouped-query heads. Indexing: global invocation (x, y, z) is query row
// i = x, head h = y, batch entry b = z, in workgroups of 64 rows.
//
// The softmax is computed the textbook way: pass 1 finds the row's largest score (so that exp
// cannot overflow), pass 2 sums exp(score - max), pass 3 sums the weighted values. Every pass
// recomputes each score from global memory (3·Tk·D loads of k, Tk·D of v per row) and nothing is
// shared between the rows of a workgroup. The production kernel (shaders/attention.wgsl) does
// one pass with an online softmax (a running max that rescales what was summed so far) over K
// and V tiles that the workgroup loads once into shared memory; for short unmasked sequences the
// selection table in src/ops/attention.ts runs matmul + softmax + matmul instead.
//
// Measured with `BENCH_PART=attention npm run bench:teaching` (bench/teaching.ts) on lavapipe
// (llvmpipe, Mesa 25.0.7), 2 cores shared with other jobs (load average 5.8), ms per launch in
// CPU time (bench/results/teaching-attention.json):
//
//   B×T×H×D        1. this kernel   2. attention.wgsl (fused)   3. matmul + softmax + matmul
//   8×50×4×24        10.97             3.00                        3.01     (fashion-vit, 8 images)
//   1×197×12×64     109.87            56.14                       10.36     (ViT-Base/16 at 224²)

struct Params {
  t: u32,          // rows per batch entry (queries = keys)
  num_heads: u32,  // H
  stride: u32,     // H·D: elements per row
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const HEAD_DIM = ${HEAD_DIM}u;

// q_i · k_j · scale for head h; rows start at element (b·T + row)·stride + h·D.
fn score(q_at: u32, k_at: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) {
    s += q[q_at + d] * k[k_at + d];
  }
  return s * params.scale;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  let h = id.y;
  let b = id.z;
  if (i >= params.t) {
    return;
  }
  let head = h * HEAD_DIM;
  let q_at = (b * params.t + i) * params.stride + head;
  let first_key = b * params.t * params.stride + head;

  var m = -1.0e30;
  for (var j = 0u; j < params.t; j++) {
    m = max(m, score(q_at, first_key + j * params.stride));
  }
  var l = 0.0;
  for (var j = 0u; j < params.t; j++) {
    l += exp(score(q_at, first_key + j * params.stride) - m);
  }
  var acc: array<f32, HEAD_DIM>;
  for (var j = 0u; j < params.t; j++) {
    let at = first_key + j * params.stride;
    let p = exp(score(q_at, at) - m) / l;
    for (var d = 0u; d < HEAD_DIM; d++) {
      acc[d] += p * v[at + d];
    }
  }
  for (var d = 0u; d < HEAD_DIM; d++) {
    out[q_at + d] = acc[d];
  }
}
