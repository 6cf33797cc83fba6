// One whole decode step of a small Llama model in one dispatch: llama2.c's `forward()` for one
// token, from its id to the logits. On CPU implementations such as lavapipe every dispatch costs
// tens of µs, far more than the arithmetic of a model of a few hundred thousand parameters, and
// only a single workgroup can wait for itself (workgroupBarrier) between the stages of a step; so
// the step is one workgroup, with the activations in workgroup memory and the weights in one
// packed storage buffer. One workgroup runs on one core (or compute unit): this is for small
// models (llama-decode-step.ts sets the limits; LanguageModel uses it when the model fits them).
//
//   x = embed[id]                                              id = ids[0], p = position[0]
//   per layer:  q|k|v = rmsnorm(x)·Wqkvᵀ;  turn q, k by RoPE;  k, v → cache row p
//               x += attention(q, cache rows 0 .. p)·Woᵀ
//               x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ,  h = rmsnorm(x)
//   logits = rmsnorm(x)·Wclsᵀ
//
// Weights (nn.Linear layout [out, in], packed by packLlamaDecodeStepWeights): embed [V, D];
// per layer qkv [Q + 2·KV, D] (q heads, k heads, v heads; q and k rows in adjacent-pair RoPE
// order), o [D, Q], gate_up [2F, D] (gate rows, then up rows), down [D, F]; then the classifier
// [V, D]. Each RMSNorm gain is folded into the columns of the projection after it, so a norm is
// only 1/rms(x), a scalar applied to the projection's outputs. Every row is zero-padded to a
// multiple of 4 floats and read as vec4s (half the time of scalar loads on lavapipe); x and act
// are vec4 arrays whose padding columns meet zero weights.
// Caches: k_cache and v_cache hold every layer, [layers, cache_rows, KV] (KV = kv heads · HEAD_DIM).
//
// Stages of the THREADS invocations, each ending in a barrier (4 per layer):
//  - attention: invocation h takes query head h; it projects q, and k and v of its kv head
//    (h / heads_per_kv, grouped-query attention), turns q and k, appends k and v to cache row p
//    (the first head of each kv group does), and attends over rows 0 .. p − 1 of the cache and
//    row p from registers with an online softmax (running max m, sum l, accumulator acc);
//    scores are in base 2 (q times scale · log2 e). Its output goes to `act`;
//  - o-projection: invocation t owns rows n ≡ t (mod THREADS) of x: x[n] += act · Wo[n]; it also
//    leaves the sum of its x[n]² in sum_sq[t], so the next RMSNorm is THREADS additions away;
//  - gate|up: rows j ≡ t of silu(gate) ⊙ up go to `act` (the attention output is used up);
//  - down-projection, like the o-projection.
// The classifier (rows v ≡ t) follows the last layer. With ADVANCE (greedy decoding) the step
// ends as the advance kernel would: invocation 0 reduces the invocations' best logits to the
// argmax and moves ids, position, kv_length and history on, one dispatch per token instead of two
// (each dispatch costs a hand-off to lavapipe's threads). RoPE angles are p · θ^(−2i/HEAD_DIM), with
// the accurate sin/cos of lib/sincos.wgsl, as in rope.wgsl. The host keeps p < cache_rows.

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
  three_half_head_dim: u32,  // 3 · HEAD_DIM / 2: pairs of rows of q, k and v per head
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

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<vec4<f32>>;
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
var<workgroup> best_logit: array<f32, THREADS>;  // per invocation: its largest logit
var<workgroup> best_id: array<u32, THREADS>;     // ... and its id (the first on ties)
${ADVANCE_TO}
#endif

var<workgroup> x: array<vec4<f32>, ${DIM4}>;    // the residual stream (zero past D)
var<workgroup> act: array<vec4<f32>, ${ACT4}>;  // the attention output, then silu(gate) ⊙ up
var<workgroup> sum_sq: array<f32, THREADS>;  // partial sums of x² per invocation

// sin and cos of angles in the thousands, accurate where WGSL's built-ins are not (lib/sincos.wgsl).
${SINCOS}

// vec4s per layer in the packed weights: qkv [Q + 2·KV, D], o [D, Q], gate_up [2F, D], down [D, F].
fn layer_size() -> u32 {
  let Q = params.heads * HEAD_DIM;
  return (Q + 2u * params.kv + 2u * params.hidden) * params.dim4 + params.dim * (params.q4 + params.hidden4);
}

// 1 / rms(x), from the partial sums of squares left by the stage that wrote x.
fn inv_rms() -> f32 {
  var total = 0.0;
  for (var t = 0u; t < THREADS; t++) { total += sum_sq[t]; }
  return inverseSqrt(total / f32(params.dim) + params.eps);
}

// Σ_k x[k] · W[k] for the rows W of weights at vec4 `row_a` and `row_b`: two outputs of a
// projection of x (its gain folded into the rows), sharing the loads of x.
fn dot2_x(row_a: u32, row_b: u32) -> vec2<f32> {
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  for (var k = 0u; k < params.dim4; k++) {
    let xk = x[k];
    a += xk * weights[row_a + k];
    b += xk * weights[row_b + k];
  }
  return vec2<f32>((a.x + a.y) + (a.z + a.w), (b.x + b.y) + (b.z + b.w));
}

// Σ_k x[k] · weights[row + k] for the 3·HEAD_DIM rows of head h's q, and k and v of its kv head,
// times r (and q by the attention scale), with q and k turned by RoPE at position p: pairs
// (2i, 2i + 1) by angle p · θ^(−2i/HEAD_DIM). One loop over all three, so the code exists once.
fn head_qkv(qkv_w: u32, h: u32, kvh: u32, r: f32, p: u32) -> array<f32, 3 * HEAD_DIM> {
  let Q = params.heads * HEAD_DIM;
  var out: array<f32, 3 * HEAD_DIM>;
  for (var i = 0u; i < params.three_half_head_dim; i++) {
    let part = i / (HEAD_DIM / 2u);  // 0: q, 1: k, 2: v
    let pair = i % (HEAD_DIM / 2u);
    let first_row = select(select(Q + params.kv, Q, part == 1u) + kvh * HEAD_DIM, h * HEAD_DIM, part == 0u) + 2u * pair;
    let scale = select(r, r * params.scale_log2, part == 0u);
    let ab = dot2_x(qkv_w + first_row * params.dim4, qkv_w + (first_row + 1u) * params.dim4) * scale;
    let a = ab.x;
    let b = ab.y;
    var sc = vec2<f32>(0.0, 1.0);
    if (part < 2u) { sc = sincos(f32(p) * exp2(-f32(pair) / f32(HEAD_DIM / 2u) * params.log2_theta)); }
    out[2u * i] = a * sc.y - b * sc.x;
    out[2u * i + 1u] = a * sc.x + b * sc.y;
  }
  return out;
}

// x[n] += Σ_k act[k] · W[n, k] over the invocation's rows n (W at vec4 `rows`, K4 vec4s a row),
// two rows at a time (n and n + THREADS share the loads of act), with the partial Σ x² that the
// next normalization reads.
fn add_projection(lid: u32, rows: u32, K4: u32) {
  var sq = 0.0;
  for (var n = lid; n < params.dim; n += 2u * THREADS) {
    let n2 = min(n + THREADS, params.dim - 1u);  // past the end: row n again, not written
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var k = 0u; k < K4; k++) {
      let ak = act[k];
      a += ak * weights[rows + n * K4 + k];
      b += ak * weights[rows + n2 * K4 + k];
    }
    let value = x[n / 4u][n % 4u] + ((a.x + a.y) + (a.z + a.w));
    x[n / 4u][n % 4u] = value;
    sq += value * value;
    if (n + THREADS < params.dim) {
      let value2 = x[n2 / 4u][n2 % 4u] + ((b.x + b.y) + (b.z + b.w));
      x[n2 / 4u][n2 % 4u] = value2;
      sq += value2 * value2;
    }
  }
  sum_sq[lid] = sq;
  workgroupBarrier();
}

// One layer: x += attention(rmsnorm(x))·Woᵀ, then x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ, h = rmsnorm(x).
fn layer_step(lid: u32, layer: u32, p: u32) {
  let D = params.dim;
  let Q = params.heads * HEAD_DIM;
  let KV = params.kv;
  let qkv_w = params.vocab * params.dim4 + layer * layer_size();
  let o_w = qkv_w + (Q + 2u * KV) * params.dim4;
  let gate_up_w = o_w + D * params.q4;
  let down_w = gate_up_w + 2u * params.hidden * params.dim4;

  // Attention: invocation h projects q of head h and k, v of its kv head, appends k and v to
  // the cache (the first head of each kv group does), and attends over rows 0 .. p with an online
  // softmax, taking row p from registers.
  var r = inv_rms();
  for (var h = lid; h < params.heads; h += THREADS) {
    let kvh = h / params.heads_per_kv;
    let qkv = head_qkv(qkv_w, h, kvh, r, p);
    var q: array<Chunk, CHUNKS>;
    var k: array<Chunk, CHUNKS>;
    var v: array<Chunk, CHUNKS>;
    for (var d = 0u; d < HEAD_DIM; d++) {
      q[d / CHUNK][d % CHUNK] = qkv[d];
      k[d / CHUNK][d % CHUNK] = qkv[HEAD_DIM + d];
      v[d / CHUNK][d % CHUNK] = qkv[2u * HEAD_DIM + d];
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
      let m_next = max(m, score);
      let correction = exp2(m - m_next);
      let weight = exp2(score - m_next);
      l = l * correction + weight;
      for (var c = 0u; c < CHUNKS; c++) { acc[c] = acc[c] * correction + weight * v_cache[key + c]; }
      m = m_next;
    }
    for (var d = 0u; d < HEAD_DIM; d++) {
      let e = h * HEAD_DIM + d;
      act[e / 4u][e % 4u] = acc[d / CHUNK][d % CHUNK] / l;
    }
  }
  workgroupBarrier();
  add_projection(lid, o_w, params.q4);

  r = inv_rms();
  for (var j = lid; j < params.hidden; j += THREADS) {
    let gate_up = dot2_x(gate_up_w + j * params.dim4, gate_up_w + (params.hidden + j) * params.dim4) * r;
    let gate = gate_up.x;
    let up = gate_up.y;
    act[j / 4u][j % 4u] = gate / (1.0 + exp(-gate)) * up;
  }
  workgroupBarrier();
  add_projection(lid, down_w, params.hidden4);
}

@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let p = position[0];
  let id = u32(ids[0]);
  let D = params.dim;

  var sq = 0.0;
  for (var n = lid; n < D; n += THREADS) {
    let value = weights[id * params.dim4 + n / 4u][n % 4u];
    x[n / 4u][n % 4u] = value;
    sq += value * value;
  }
  sum_sq[lid] = sq;
  workgroupBarrier();

  for (var layer = 0u; layer < params.layers; layer++) { layer_step(lid, layer, p); }

  // The classifier, after the last layer. Each invocation's rows come in increasing order, so a
  // strict > keeps the first of equal logits.
  let classifier = params.vocab * params.dim4 + params.layers * layer_size();
  let r = inv_rms();
  var best = -3.4e38;  // below any logit
  var best_v = 0xffffffffu;
  for (var v = lid; v < params.vocab; v += 2u * THREADS) {
    let v2 = min(v + THREADS, params.vocab - 1u);  // past the end: some row again, not written
    let pair = dot2_x(classifier + v * params.dim4, classifier + v2 * params.dim4) * r;
    logits[v] = pair.x;
    if (pair.x > best) { best = pair.x; best_v = v; }
    if (v + THREADS < params.vocab) {
      logits[v2] = pair.y;
      if (pair.y > best) { best = pair.y; best_v = v2; }
    }
  }

#if ${ADVANCE}
  // Greedy decoding continues on the GPU, as the advance kernel would do in a dispatch of its
  // own (one dispatch per token fewer): the argmax becomes the next input, is recorded in
  // history[p + 1], and the position moves on. Every invocation read p and the id above.
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
