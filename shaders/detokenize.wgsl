// Detokenize: a grid of image tokens → RGBA8 pixels, by looking each token's patch up in a codebook.
//
//   out[y, x] = codebook[code, y % p, x % p]   with   code = tokens[y / p, x / p] − first_token
//
// Layout: tokens i32 [H, W] (vocabulary ids, raster order), codebook u32 [K, p, p] (one packed
// RGBA8 pixel per element: R in the low byte, as ImageData stores it in little-endian memory),
// out u32 [H·p, W·p], all row-major. A palette is the case p = 1.
// A token outside [first_token, first_token + K) — e.g. a cell not generated yet, marked −1 —
// becomes transparent black (0), so a partly generated grid can be drawn as it grows.
// One invocation per output pixel; the 1-D launch is folded over x and y (at most 65535
// workgroups per dimension), so a row of the dispatch grid covers `row_stride` pixels.

struct Params {
  out_height: u32,   // H·p
  out_width: u32,    // W·p
  grid_width: u32,   // W
  patch_size: u32,   // p
  codebook_size: u32, // K
  first_token: i32,  // vocabulary id of code 0
  row_stride: u32,   // pixels covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> codebook: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.out_height * params.out_width) { return; }
  let y = i / params.out_width;
  let x = i % params.out_width;
  let p = params.patch_size;
  let code = tokens[(y / p) * params.grid_width + x / p] - params.first_token;
  if (code < 0 || u32(code) >= params.codebook_size) {
    out[i] = 0u;
    return;
  }
  out[i] = codebook[(u32(code) * p + y % p) * p + x % p];
}
