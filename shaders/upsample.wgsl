// Upsample an RGBA8 image by an integer factor s, nearest or bilinear.
//
// Layout: src u32 [h, w], out u32 [h·s, w·s], row-major; each element is one packed RGBA8
// pixel (R in the low byte). One invocation per output pixel; the 1-D launch is folded over x
// and y (at most 65535 workgroups per dimension), a row of the grid covering `row_stride` pixels.
//
// nearest:  out[y, x] = src[y / s, x / s]   (integer division: each pixel becomes an s×s block)
// bilinear: torch.nn.functional.interpolate(mode='bilinear', align_corners=False) per channel:
//   the centre of output pixel y sits at source coordinate  sy = max((y + 0.5) / s − 0.5, 0),
//   rows y0 = floor(sy) and y1 = min(y0 + 1, h − 1) are blended with weight ly = sy − y0
//   (the same along x), and the result is rounded half to even and clamped to [0, 255].
//   For s a power of two every weight and sum is exact in f32, so the bytes equal PyTorch's.

struct Params {
  src_height: u32,  // h
  src_width: u32,   // w
  out_width: u32,   // w·s
  scale: u32,       // s
  count: u32,       // output pixels
  row_stride: u32,  // pixels covered by one row of the dispatch grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn channels(pixel: u32) -> vec4<f32> {
  return vec4<f32>(vec4<u32>(pixel & 0xffu, (pixel >> 8u) & 0xffu, (pixel >> 16u) & 0xffu, pixel >> 24u));
}

fn pack(c: vec4<f32>) -> u32 {
  let b = vec4<u32>(clamp(round(c), vec4<f32>(0.0), vec4<f32>(255.0)));
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

/** Source coordinate of an output pixel's centre along one axis: the first row and the weight of the next. */
fn source_coordinate(dst: u32, size: u32) -> vec2<f32> {
  let s = max((f32(dst) + 0.5) / f32(params.scale) - 0.5, 0.0);
  let first = min(floor(s), f32(size - 1u));
  return vec2<f32>(first, s - first);
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_stride + gid.x;
  if (i >= params.count) { return; }
  let y = i / params.out_width;
  let x = i % params.out_width;
#if ${BILINEAR}
  let sy = source_coordinate(y, params.src_height);
  let sx = source_coordinate(x, params.src_width);
  let y0 = u32(sy.x);
  let x0 = u32(sx.x);
  let y1 = min(y0 + 1u, params.src_height - 1u);
  let x1 = min(x0 + 1u, params.src_width - 1u);
  let w = params.src_width;
  let top = (1.0 - sx.y) * channels(src[y0 * w + x0]) + sx.y * channels(src[y0 * w + x1]);
  let bottom = (1.0 - sx.y) * channels(src[y1 * w + x0]) + sx.y * channels(src[y1 * w + x1]);
  out[i] = pack((1.0 - sy.y) * top + sy.y * bottom);
#else
  out[i] = src[(y / params.scale) * params.src_width + x / params.scale];
#endif
}
