// Patch embedding (ViT): Conv2d with kernel = stride = p, written as a matrix product
//   out[m, o] = bias[o] + Σ_k patches[m, k] · weight[o, k]
// where row m = b·N + py·(W/p) + px is patch (py, px) of image b in raster order and column
// k = (c·p + ky)·p + kx runs over the patch's pixels in the weight's [C, p, p] order, so
//   patches[m, k] = image[b, c, py·p + ky, px·p + kx]   (the im2col matrix, never stored).
//
// Layout: image [B, C, H, W], weight [D, C, p, p] = [D, K] with K = C·p·p, bias [D],
// out [B, N, D] = [M, D] with M = B·N, all row-major.
// Tiling: a TILE×TILE workgroup computes a TILE×TILE block of out, one element per thread.
// It walks K in steps of TILE; per step every thread loads one patch pixel and one weight
// into workgroup memory (zero past the edges), then all multiply-accumulate from there.

struct Params {
  m: u32,            // B·N patches
  d: u32,            // output channels
  k: u32,            // C·p·p
  patch_size: u32,   // p
  patches_per_image: u32, // N
  patch_cols: u32,   // W / p
  height: u32,       // H
  width: u32,        // W
  channels: u32,     // C
}

const TILE = ${TILE}u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> patch_tile: array<array<f32, TILE>, TILE>;   // [row m][column k]
var<workgroup> weight_tile: array<array<f32, TILE>, TILE>;  // [output o][column k]

/** patches[m, k]: the pixel of the im2col matrix, read straight from the image. */
fn patch_pixel(m: u32, k: u32) -> f32 {
  let b = m / params.patches_per_image;
  let n = m % params.patches_per_image;
  let py = n / params.patch_cols;
  let px = n % params.patch_cols;
  let pp = params.patch_size * params.patch_size;
  let c = k / pp;
  let ky = (k / params.patch_size) % params.patch_size;
  let kx = k % params.patch_size;
  let y = py * params.patch_size + ky;
  let x = px * params.patch_size + kx;
  return image[((b * params.channels + c) * params.height + y) * params.width + x];
}

@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * TILE;
  let o0 = wid.x * TILE;
  var acc = 0.0;
  for (var k0 = 0u; k0 < params.k; k0 += TILE) {
    let k = k0 + lid.x;
    let m = m0 + lid.y;
    let o = o0 + lid.y;
    var pixel = 0.0;
    if (m < params.m && k < params.k) { pixel = patch_pixel(m, k); }
    patch_tile[lid.y][lid.x] = pixel;
    var w = 0.0;
    if (o < params.d && k < params.k) { w = weight[o * params.k + k]; }
    weight_tile[lid.y][lid.x] = w;
    workgroupBarrier();
    for (var j = 0u; j < TILE; j++) {
      acc += patch_tile[lid.y][j] * weight_tile[lid.x][j];
    }
    workgroupBarrier();
  }
  let m = m0 + lid.y;
  let o = o0 + lid.x;
  if (m < params.m && o < params.d) {
    out[m * params.d + o] = acc + bias[o];
  }
}
