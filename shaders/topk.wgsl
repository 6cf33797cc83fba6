// Row top-k: the K largest values of each row, in descending order, with their indices
// (the smaller index first among equal values, so k = 1 agrees with argmax).
//
// Layout: x f32 [rows, V] row-major; values f32 [rows, K], indices i32 [rows, K].
// Tiling: one workgroup per row (row index folded over the grid's x and y), in two phases.
//   1. Thread `lane` scans j = lane, lane + WORKGROUP, … and keeps its own top K in
//      registers, a list sorted descending, by insertion: an element enters only if it is
//      strictly larger than the list's last (scanning j upwards, ties keep the earlier j).
//   2. K rounds of merging: each thread offers the head of its list, a tree reduction over
//      workgroup memory picks the best offer (larger value, then smaller index), thread 0
//      writes it, and the thread that offered it moves its head on.
// A thread whose list is used up offers index NONE, which never wins; K ≤ V is checked
// on the CPU, so every round has a winner.

struct Params {
  rows: u32,
  v: u32,
  grid_x: u32,  // workgroups along x; row = wid.y * grid_x + wid.x
}

const WORKGROUP = ${WORKGROUP}u;
const K = ${K}u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

var<workgroup> offer_values: array<f32, WORKGROUP>;
var<workgroup> offer_indices: array<u32, WORKGROUP>;

/** Whether candidate (v, i) beats (best_v, best_i) in the order: larger value, then smaller index. */
fn beats(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
  return i != NONE && (best_i == NONE || v > best_v || (v == best_v && i < best_i));
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let base = row * params.v;

  // Phase 1: this thread's top K, sorted descending.
  var top_values: array<f32, K>;
  var top_indices: array<u32, K>;
  var filled = 0u;
  for (var j = lane; j < params.v; j += WORKGROUP) {
    let v = x[base + j];
    if (filled < K || v > top_values[K - 1u]) {
      var at = min(filled, K - 1u);
      while (at > 0u && top_values[at - 1u] < v) {
        top_values[at] = top_values[at - 1u];
        top_indices[at] = top_indices[at - 1u];
        at--;
      }
      top_values[at] = v;
      top_indices[at] = j;
      filled = min(filled + 1u, K);
    }
  }

  // Phase 2: K rounds, each taking the best head among all threads' lists.
  var head = 0u;
  for (var rank = 0u; rank < K; rank++) {
    offer_values[lane] = select(0.0, top_values[min(head, K - 1u)], head < filled);
    offer_indices[lane] = select(NONE, top_indices[min(head, K - 1u)], head < filled);
    workgroupBarrier();
    for (var step = WORKGROUP / 2u; step > 0u; step /= 2u) {
      if (lane < step) {
        let v = offer_values[lane + step];
        let i = offer_indices[lane + step];
        if (beats(v, i, offer_values[lane], offer_indices[lane])) {
          offer_values[lane] = v;
          offer_indices[lane] = i;
        }
      }
      workgroupBarrier();
    }
    let winner = offer_indices[0];
    if (lane == 0u) {
      values[row * K + rank] = offer_values[0];
      indices[row * K + rank] = i32(winner);
    }
    if (head < filled && top_indices[head] == winner) { head++; }
    workgroupBarrier(); // everyone has read the winner before the next round's offers overwrite it
  }
}
