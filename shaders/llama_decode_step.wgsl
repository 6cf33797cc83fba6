// One whole decode step of a small Llama model in one dispatch: llama2.c's `forward()` for one
// token, from its id to the logits. On CPU implementations such as lavapipe every dispatch costs
// tens of µs, far more than the arithmetic of a model of a few hundred thousand parameters, and
// only a single workgroup can wait for itself (workgroupBarrier) between the stages of a step; so
// the step is one workgroup, with the activations in workgroup memory and the weights packed into
// one texture. One workgroup runs on one core (or compute unit): this is for small models
// (llama-decode-step.ts sets the limits; LanguageModel uses it when the model fits them).
//
//   x = embed[id]                                              id = ids[0], p = position[0]
//   per layer:  q|k|v = rmsnorm(x)·Wqkvᵀ;  turn q, k by RoPE;  k, v → cache row p
//               x += attention(q, cache rows 0 .. p)·Woᵀ
//               x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ,  h = rmsnorm(x)
//   logits = rmsnorm(x)·Wclsᵀ
//
// Weights (nn.Linear layout [out, in], packed by packLlamaDecodeStepWeights): embed [V, D];
// per layer qkv [Q + 2·KV, D] (q heads, k heads, v heads; q and k rows in adjacent-pair RoPE
// order), o [D, Q], gate [F, D], up [F, D], down [D, F]; then the classifier [V, D]. Each RMSNorm
// gain is folded into the columns of the projection after it, so a norm is only 1/rms(x), a
// scalar applied to the projection's outputs. Every row is zero-padded to a multiple of 4 floats,
// and every matrix but the embedding to a multiple of 4 rows: an invocation takes 4 adjacent rows
// at once (a quad), so that each load of x serves 4 rows. The packing is an rgba32float texture,
// vec4 i at texel (i mod TEXTURE_WIDTH, i div TEXTURE_WIDTH), read with textureLoad: loads are
// most of a step, and lavapipe fetches a texel for 8 invocations with one gather where it loads
// from a storage buffer invocation by invocation (≈ 0.7 against 1.1 ns a float). With SUBGROUPS
// (a fixed subgroup size of at least 8) the loads of x are shared across the subgroup too (quad).
// x and act are vec4 arrays, zero past D, Q and F.
// Caches: k_cache and v_cache hold every layer, [layers, cache_rows, KV] (KV = kv heads · HEAD_DIM).
//
// Stages of the THREADS invocations, each ending in a barrier (5 per layer):
//  - q|k|v: invocation t takes quads t, t + THREADS, … of the qkv rows (two RoPE pairs each),
//    turns q and k, scales q, and leaves them in `qkv`;
//  - attention: invocation h takes query head h: the first head of each kv group appends k and v
//    to cache row p; each attends over rows 0 .. p − 1 of the cache and row p from `qkv` with an
//    online softmax (running max m, sum l, accumulator acc); scores are in base 2 (q times
//    scale · log2 e). Its output goes to `act`;
//  - o-projection: invocation t owns quads of x: x[n .. n + 3] += act · Wo[n .. n + 3]ᵀ; it also
//    leaves the sum of its x[n]² in sum_sq[t], so the next RMSNorm is THREADS additions away;
//  - gate|up: quads of silu(gate) ⊙ up go to `act` (the attention output is used up);
//  - down-projection, like the o-projection.
// The classifier (quads of logits) follows the last layer. With ADVANCE (greedy decoding) the
// step ends as the advance kernel would: invocation 0 reduces the invocations' best logits to the
// argmax and moves ids, position, kv_length and history on; then the next of steps[0] steps
// begins, all in this one dispatch (each dispatch costs a hand-off to lavapipe's threads, and the
// host only needs the ids, from history, every few dozen tokens). RoPE angles are
// p · θ^(−2i/HEAD_DIM), with the accurate sin/cos of lib/sincos.wgsl (lib/rope.wgsl). The host
// keeps p < cache_rows.

#if ${SUBGROUPS}
enable subgroups;
// The loops around `quad` run whole subgroups together (see `lane`), so its broadcasts are in
// subgroup-uniform control flow, which the analysis cannot see.
diagnostic(off, subgroup_uniformity);
#endif

struct Params {
  dim: u32,          // D
  hidden: u32,       // F
  dim4: u32,         // ⌈D/4⌉, ⌈Q/4⌉, ⌈F/4⌉: vec4s per row of a matrix over D, Q or F inputs
  q4: u32,
  hidden4: u32,
  layers: u32,
  vocab: u32,        // V
  heads: u32,        // H
  heads_per_kv: u32, // H / KV_HEADS
  kv: u32,           // KV_HEADS · HEAD_DIM: floats per cache row
  cache_rows: u32,   // cache rows per layer
  qkv_rows: u32,     // Q + 2·KV
  eps: f32,
  scale_log2: f32,   // scale · log2(e)
  log2_theta: f32,
}

// Loop bounds come from the uniform block, not from constants, on purpose: with constant bounds
// LLVM (in lavapipe) unrolls and inlines the whole step into a function so large that it takes
// minutes to compile. Constants only size arrays.
const HEAD_DIM = ${HEAD_DIM}u;
const THREADS = ${THREADS}u;
// The caches are read a chunk of a head's row at a time: vec4s when HEAD_DIM divides by 4, else
// vec2s (HEAD_DIM is even). Per float, a chunk load costs a fraction of a scalar one on lavapipe.
const CHUNK = ${CHUNK}u;
alias Chunk = vec${CHUNK}<f32>;
const CHUNKS = HEAD_DIM / CHUNK;
const TEXTURE_WIDTH = ${TEXTURE_WIDTH}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var weights: texture_2d<f32>;  // the packed weights, TEXTURE_WIDTH vec4s a row
@group(0) @binding(2) var<storage, read_write> k_cache: array<Chunk>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<Chunk>;
#if ${ADVANCE}
@group(0) @binding(4) var<storage, read_write> ids: array<i32>;
@group(0) @binding(5) var<storage, read_write> position: array<u32>;
#else
@group(0) @binding(4) var<storage, read> ids: array<i32>;
@group(0) @binding(5) var<storage, read> position: array<u32>;
#endif
@group(0) @binding(6) var<storage, read_write> logits: array<f32>;
#if ${ADVANCE}
@group(0) @binding(7) var<storage, read_write> kv_length: array<u32>;
@group(0) @binding(8) var<storage, read_write> history: array<i32>;
@group(0) @binding(9) var<storage, read> steps: array<u32>;  // steps[0]: greedy steps to take
var<workgroup> best_logit: array<f32, THREADS>;  // per invocation: its largest logit
var<workgroup> best_id: array<u32, THREADS>;     // ... and its id (the first on ties)
#include "lib/advance.wgsl"
#endif

// x and act have the same type, so that one `quad` function reads either.
alias Activations = array<vec4<f32>, ${VEC4S}>;
var<workgroup> x: Activations;    // the residual stream (zero past D)
var<workgroup> act: Activations;  // the attention output, then silu(gate) ⊙ up
var<workgroup> qkv: array<vec4<f32>, ${QKV4}>;  // this token's q (turned and scaled), k (turned), v
var<workgroup> sum_sq: array<f32, THREADS>;      // partial sums of x² per invocation

// rope(xy, p, i, D/2, log2 θ): a pair turned by the rotary angle p · θ^(−2i/D).
#include "lib/rope.wgsl"
// online_softmax_step: one key into a running max, sum and accumulator.
#include "lib/online_softmax.wgsl"

// vec4s per layer in the packed weights: qkv, o, gate, up, down, each padded to quads of rows.
fn layer_size() -> u32 {
  return (pad4(params.qkv_rows) + 2u * pad4(params.hidden)) * params.dim4 + pad4(params.dim) * (params.q4 + params.hidden4);
}

fn pad4(n: u32) -> u32 { return (n + 3u) & ~3u; }

// vec4 i of the packed weights.
fn weight(i: u32) -> vec4<f32> { return textureLoad(weights, vec2<u32>(i % TEXTURE_WIDTH, i / TEXTURE_WIDTH), 0); }

// 1 / rms(x), from the partial sums of squares left by the stage that wrote x.
fn inv_rms() -> f32 {
  var total = 0.0;
  for (var t = 0u; t < THREADS; t++) { total += sum_sq[t]; }
  return inverseSqrt(total / f32(params.dim) + params.eps);
}

// The invocation's lane in its subgroup (SUBGROUPS), or its index mod 8. A stage's loop over
// quads starts each group of lanes at the quad of its first lane (4·(lid − lane)) and steps all
// of them together, so a subgroup enters and leaves every iteration whole; a lane whose quad is
// past the end computes the last quad again and stores nothing.
var<private> lane: u32;

// acc[i] += vk · W[i, k] for the quad of rows i = 0 .. 3 at vec4 `at` (rows of K4 vec4s).
fn accumulate(acc: ptr<function, array<vec4<f32>, 4>>, vk: vec4<f32>, at: u32, K4: u32, k: u32) {
  (*acc)[0] += vk * weight(at + k);
  (*acc)[1] += vk * weight(at + K4 + k);
  (*acc)[2] += vk * weight(at + 2u * K4 + k);
  (*acc)[3] += vk * weight(at + 3u * K4 + k);
}

// Σ_k v[k] · W[i, k] for the quad of rows i = 0 .. 3 at vec4 `at` (rows of K4 vec4s): four
// outputs of a projection of v, sharing each load of v. Every lane needs the same v[k], and on
// lavapipe a load from workgroup memory goes lane by lane, so with SUBGROUPS lane l loads
// v[k + l mod 8] and each of the 8 is broadcast to the whole subgroup.
fn quad(v: ptr<workgroup, Activations>, at: u32, K4: u32) -> vec4<f32> {
  var acc: array<vec4<f32>, 4>;
#if ${SUBGROUPS}
  for (var k = 0u; k < K4; k += 8u) {
    let mine = (*v)[min(k + lane % 8u, K4 - 1u)];
    let n = K4 - k;  // vec4s left: the last round may take fewer than 8
    accumulate(&acc, subgroupBroadcast(mine, 0u), at, K4, k);
    if (n > 1u) { accumulate(&acc, subgroupBroadcast(mine, 1u), at, K4, k + 1u); }
    if (n > 2u) { accumulate(&acc, subgroupBroadcast(mine, 2u), at, K4, k + 2u); }
    if (n > 3u) { accumulate(&acc, subgroupBroadcast(mine, 3u), at, K4, k + 3u); }
    if (n > 4u) { accumulate(&acc, subgroupBroadcast(mine, 4u), at, K4, k + 4u); }
    if (n > 5u) { accumulate(&acc, subgroupBroadcast(mine, 5u), at, K4, k + 5u); }
    if (n > 6u) { accumulate(&acc, subgroupBroadcast(mine, 6u), at, K4, k + 6u); }
    if (n > 7u) { accumulate(&acc, subgroupBroadcast(mine, 7u), at, K4, k + 7u); }
  }
#else
  for (var k = 0u; k < K4; k++) { accumulate(&acc, (*v)[k], at, K4, k); }
#endif
  return vec4<f32>(hsum(acc[0]), hsum(acc[1]), hsum(acc[2]), hsum(acc[3]));
}

fn hsum(a: vec4<f32>) -> f32 { return (a.x + a.y) + (a.z + a.w); }

// Rows (row, row + 1) of q|k|v at position p: a pair of q or k is turned by RoPE, by the angle
// p · θ^(−2i/HEAD_DIM) of its place i in the head, and q is also scaled; v is left as it is.
fn turn(ab: vec2<f32>, row: u32, p: u32) -> vec2<f32> {
  let Q = params.heads * HEAD_DIM;
  if (row >= Q + params.kv) { return ab; }
  let turned = rope(ab, p, (row % HEAD_DIM) / 2u, HEAD_DIM / 2u, params.log2_theta);
  return select(turned, turned * params.scale_log2, row < Q);
}

fn qkv_at(i: u32) -> f32 { return qkv[i / 4u][i % 4u]; }

// x += act · Wᵀ over the invocation's quads of rows (W at vec4 `rows`, K4 vec4s a row), with the
// partial Σ x² that the next normalization reads. Padding rows are zero, so x stays zero past D.
fn add_projection(lid: u32, rows: u32, K4: u32) {
  var sq = 0.0;
  for (var base = 4u * (lid - lane); base < params.dim; base += 4u * THREADS) {
    let n = min(base + 4u * lane, pad4(params.dim) - 4u);
    let value = x[n / 4u] + quad(&act, rows + n * K4, K4);
    if (base + 4u * lane < params.dim) {
      x[n / 4u] = value;
      sq += dot(value, value);
    }
  }
  sum_sq[lid] = sq;
  workgroupBarrier();
}

// One layer: x += attention(rmsnorm(x))·Woᵀ, then x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ, h = rmsnorm(x).
fn layer_step(lid: u32, layer: u32, p: u32) {
  let Q = params.heads * HEAD_DIM;
  let KV = params.kv;
  let qkv_w = params.vocab * params.dim4 + layer * layer_size();
  let o_w = qkv_w + pad4(params.qkv_rows) * params.dim4;
  let gate_w = o_w + pad4(params.dim) * params.q4;
  let up_w = gate_w + pad4(params.hidden) * params.dim4;
  let down_w = up_w + pad4(params.hidden) * params.dim4;

  var r = inv_rms();
  for (var base = 4u * (lid - lane); base < params.qkv_rows; base += 4u * THREADS) {
    let row = min(base + 4u * lane, pad4(params.qkv_rows) - 4u);
    let y = quad(&x, qkv_w + row * params.dim4, params.dim4) * r;
    if (base + 4u * lane < params.qkv_rows) { qkv[row / 4u] = vec4<f32>(turn(y.xy, row, p), turn(y.zw, row + 2u, p)); }
  }
  workgroupBarrier();

  // Attention: invocation h takes query head h; the first head of each kv group appends k and v
  // to the cache. An online softmax over rows 0 .. p, row p from `qkv`.
  for (var h = lid; h < params.heads; h += THREADS) {
    let kvh = h / params.heads_per_kv;
    var q: array<Chunk, CHUNKS>;
    var k: array<Chunk, CHUNKS>;
    var v: array<Chunk, CHUNKS>;
    for (var d = 0u; d < HEAD_DIM; d++) {
      q[d / CHUNK][d % CHUNK] = qkv_at(h * HEAD_DIM + d);
      k[d / CHUNK][d % CHUNK] = qkv_at(Q + kvh * HEAD_DIM + d);
      v[d / CHUNK][d % CHUNK] = qkv_at(Q + KV + kvh * HEAD_DIM + d);
    }
    let cache_at = (layer * params.cache_rows * KV + kvh * HEAD_DIM) / CHUNK;  // in chunks
    let row_chunks = KV / CHUNK;
    if (h % params.heads_per_kv == 0u && p < params.cache_rows) {
      for (var c = 0u; c < CHUNKS; c++) {
        k_cache[cache_at + p * row_chunks + c] = k[c];
        v_cache[cache_at + p * row_chunks + c] = v[c];
      }
    }
    // The new key first: it sets a finite running max, so no key needs a −∞ stand-in.
    var m = 0.0;
    for (var c = 0u; c < CHUNKS; c++) { m += dot(q[c], k[c]); }
    var l = 1.0;
    var acc = v;
    for (var j = 0u; j < min(p, params.cache_rows); j++) {
      let key = cache_at + j * row_chunks;
      var score = 0.0;
      for (var c = 0u; c < CHUNKS; c++) { score += dot(q[c], k_cache[key + c]); }
      let cw = online_softmax_step(score, &m, &l);
      for (var c = 0u; c < CHUNKS; c++) { acc[c] = acc[c] * cw.x + cw.y * v_cache[key + c]; }
    }
    for (var d = 0u; d < HEAD_DIM; d++) {
      let e = h * HEAD_DIM + d;
      act[e / 4u][e % 4u] = acc[d / CHUNK][d % CHUNK] / l;
    }
  }
  workgroupBarrier();
  add_projection(lid, o_w, params.q4);

  r = inv_rms();
  for (var base = 4u * (lid - lane); base < params.hidden; base += 4u * THREADS) {
    let j = min(base + 4u * lane, pad4(params.hidden) - 4u);
    let gate = quad(&x, gate_w + j * params.dim4, params.dim4) * r;
    let up = quad(&x, up_w + j * params.dim4, params.dim4) * r;
    if (base + 4u * lane < params.hidden) { act[j / 4u] = gate / (1.0 + exp(-gate)) * up; }
  }
  workgroupBarrier();
  add_projection(lid, down_w, params.hidden4);
}

// One token: ids[0] at position[0] to the logits (and, with ADVANCE, on to the next token).
fn step(lid: u32) {
  let p = position[0];
  let id = u32(ids[0]);

  var sq = 0.0;
  for (var n = lid; n < params.dim4; n += THREADS) {
    let value = weight(id * params.dim4 + n);
    x[n] = value;
    sq += dot(value, value);
  }
  sum_sq[lid] = sq;
  workgroupBarrier();

  for (var layer = 0u; layer < params.layers; layer++) { layer_step(lid, layer, p); }

  // The classifier, after the last layer. Each invocation's logits come in increasing order, so
  // a strict > keeps the first of equal logits.
  let classifier = params.vocab * params.dim4 + params.layers * layer_size();
  let r = inv_rms();
  var best = -3.4e38;  // below any logit
  var best_v = 0xffffffffu;
  for (var base = 4u * (lid - lane); base < params.vocab; base += 4u * THREADS) {
    let v = min(base + 4u * lane, pad4(params.vocab) - 4u);
    let four = quad(&x, classifier + v * params.dim4, params.dim4) * r;
    for (var i = 0u; i < select(0u, min(4u, params.vocab - v), base + 4u * lane < params.vocab); i++) {
      logits[v + i] = four[i];
      if (four[i] > best) { best = four[i]; best_v = v + i; }
    }
  }

#if ${ADVANCE}
  // Greedy decoding continues on the GPU, as the advance kernel would do in a dispatch of its
  // own: the argmax becomes the next input, is recorded in history[p + 1], and the position moves
  // on. Every invocation read p and the id above.
  best_logit[lid] = best;
  best_id[lid] = best_v;
  workgroupBarrier();
  if (lid == 0u) {
    for (var t = 1u; t < THREADS; t++) {
      if (best_logit[t] > best || (best_logit[t] == best && best_id[t] < best_v)) {
        best = best_logit[t];
        best_v = best_id[t];
      }
    }
    advance_to(i32(best_v), p + 1u);
  }
#endif
}

@compute @workgroup_size(${THREADS})
fn main(
  @builtin(local_invocation_index) lid: u32,
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) subgroup_lane: u32,
#endif
) {
#if ${SUBGROUPS}
  lane = subgroup_lane;
#else
  lane = lid % 8u;
#endif
#if ${ADVANCE}
  for (var s = 0u; s < steps[0]; s++) {
    step(lid);
    // The next step reads what this one wrote to storage from other invocations: the new cache
    // rows, the id and the position.
    storageBarrier();
  }
#else
  step(lid);
#endif
}
