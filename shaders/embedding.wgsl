// Embedding lookup: out[n, t, :] = scale · table[ids[n, t], :] (+ positions[offset + t, :]).
//
// Layout: ids i32 [tokens] (= [N, T] flattened), table f32 [V, D], positions f32 [P, D],
// position u32 [1] (the dynamic offset, e.g. the decode step), out f32 [tokens, D].
// One invocation per output element i: token = i / D, column = i % D; the 1-D launch is
// folded over x and y, a row of the grid covering `row_stride` elements.
//
// Big vocabularies: a table larger than one storage binding may hold is bound in chunks of
// rows [row_begin, row_end), one dispatch per chunk, and each dispatch writes only the
// tokens whose id falls in its chunk. Out-of-range ids (< 0 or ≥ V) read nothing: the
// dispatch with `writes_invalid` = 1 gives them a zero token row (positions still added).
// Positions past the end of the positions table likewise add zero.

struct Params {
  count: u32,          // elements of out
  d: u32,
  tokens_per_row: u32, // T: the position of token i is offset + i % T
  vocab: u32,
  row_begin: u32,      // vocabulary rows bound to `table` in this dispatch
  row_end: u32,
  writes_invalid: u32, // 1 for the one dispatch that writes out-of-range ids
  position_rows: u32,  // P
  row_stride: u32,     // elements covered by one row of the dispatch grid
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;  // rows row_begin .. row_end only
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if ${POSITIONS}
@group(0) @binding(4) var<storage, read> positions: array<f32>;
#endif
#if ${DYNAMIC_OFFSET}
@group(0) @binding(5) var<storage, read> position: array<u32>;
#endif

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let token = i / params.d;
  let column = i % params.d;
  let id = ids[token];

  let valid = id >= 0 && u32(id) < params.vocab;
  let mine = select(params.writes_invalid == 1u, u32(id) >= params.row_begin && u32(id) < params.row_end, valid);
  if (!mine) { return; }

  var value = 0.0;
  if (valid) {
    value = params.scale * table[(u32(id) - params.row_begin) * params.d + column];
  }
#if ${POSITIONS}
#if ${DYNAMIC_OFFSET}
  let row = position[0] + token % params.tokens_per_row;
#else
  let row = token % params.tokens_per_row;
#endif
  if (row < params.position_rows) {
    value += positions[row * params.d + column];
  }
#endif
  out[i] = value;
}
