// KV-cache reorder for beam search: dst[b, t, :] = src[index[b], t, :] for the first `rows[0]` rows.
//
// Beam search keeps N = sources × beams sequences; after each step every new beam b continues
// some old beam index[b] (the same one for several new beams, or none), so its cached keys and
// values must become a copy of that beam's. Copying in place would overwrite rows another beam
// still has to read, so src and dst are different buffers (the decoder ping-pongs between two
// caches). Only the rows written so far are copied: `rows` is a u32 [1] read at run time (the
// decode position), so the same recorded dispatch serves every step.
//
// Layout: src and dst are [N, capacity, C]; index is i32 [N] with values in [0, N).
// One invocation per element of the [N, capacity, C] cache; the 1-D launch is folded over x and y,
// a row of the grid covering `row_stride` elements. Invocations past rows[0] return at once.

struct Params {
  count: u32,      // N * capacity * C
  capacity: u32,   // rows per sequence
  channels: u32,   // C
  row_stride: u32, // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let c = i % params.channels;
  let t = (i / params.channels) % params.capacity;
  let b = i / (params.channels * params.capacity);
  if (t >= rows[0]) { return; }
  let beam = u32(index[b]);
  dst[i] = src[(beam * params.capacity + t) * params.channels + c];
}
