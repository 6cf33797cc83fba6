// Patchify (ViT's im2col): cut images into p×p patches and lay each patch out as one row,
//   out[m, k] = image[b, c, py·p + ky, px·p + kx]
// where row m = b·N + py·(W/p) + px is patch (py, px) of image b in raster order, and column
// k = (c·p + ky)·p + kx runs over the patch's pixels in a Conv2d weight's [C, p, p] order. A patch
// embedding is then one matmul of these rows with the weight viewed as [D, C·p·p] (transposed).
// Layout: image [B, C, H, W], out [B, N, C·p·p] with N = (H/p)·(W/p), row-major.
// One invocation per output element; the 1-D launch is folded over x and y (at most 65535
// workgroups per dimension), so a row of the dispatch grid covers `row_stride` elements.

struct Params {
  count: u32,              // B·N·C·p·p output elements
  patch_size: u32,         // p
  patch_cols: u32,         // W / p
  patches_per_image: u32,  // N
  channels: u32,           // C
  height: u32,             // H
  width: u32,              // W
  row_stride: u32,         // elements covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let p = params.patch_size;
  let k_count = params.channels * p * p;
  let m = i / k_count;
  let k = i % k_count;
  let b = m / params.patches_per_image;
  let n = m % params.patches_per_image;
  let c = k / (p * p);
  let y = (n / params.patch_cols) * p + (k / p) % p;
  let x = (n % params.patch_cols) * p + k % p;
  out[i] = image[((b * params.channels + c) * params.height + y) * params.width + x];
}
