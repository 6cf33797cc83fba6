// KV-cache write: cache[b, position + t, :] = src[b, t, :].
//
// `cache` is a persistent state tensor [B, capacity, C] that lives across runs; `position`
// is a one-element u32 buffer written by the host (or advanced on the GPU) before each run,
// so the same recorded dispatch appends at a new row every decode step. One invocation per
// element of src; rows past the capacity are dropped (the host refuses such requests first).

struct Params {
  count: u32,      // elements of src = B * T * C
  tokens: u32,     // T
  channels: u32,   // C
  capacity: u32,   // rows of the cache per batch entry
  row_stride: u32, // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> position: array<u32>;
@group(0) @binding(3) var<storage, read_write> cache: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let c = i % params.channels;
  let t = (i / params.channels) % params.tokens;
  let b = i / (params.channels * params.tokens);
  let row = position[0] + t;
  if (row >= params.capacity) { return; }
  cache[(b * params.capacity + row) * params.channels + c] = src[i];
}
