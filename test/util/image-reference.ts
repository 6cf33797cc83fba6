/**
 * Float64 CPU references for the image kernels (detokenize, upsample) on packed RGBA8 pixels
 * (one u32 per pixel, R in the low byte), plus the packing helpers the tests share.
 */

export function packRgba(r: number, g: number, b: number, a = 255): number {
  return (r | (g << 8) | (b << 16) | (a << 24)) >>> 0;
}

export function unpackRgba(pixel: number): [number, number, number, number] {
  return [pixel & 0xff, (pixel >>> 8) & 0xff, (pixel >>> 16) & 0xff, pixel >>> 24];
}

/** tokens [h, w] (vocabulary ids), codebook [k, p, p] packed → [h·p, w·p] packed; ids outside the codebook → 0. */
export function detokenizeRef(tokens: ArrayLike<number>, h: number, w: number, codebook: ArrayLike<number>, k: number, p: number, firstToken: number): Uint32Array {
  const out = new Uint32Array(h * p * w * p);
  for (let y = 0; y < h * p; y++) {
    for (let x = 0; x < w * p; x++) {
      const code = tokens[Math.floor(y / p) * w + Math.floor(x / p)]! - firstToken;
      out[y * w * p + x] = code >= 0 && code < k ? codebook[(code * p + (y % p)) * p + (x % p)]! : 0;
    }
  }
  return out;
}

/** Round half to even, as WGSL's round() and torch.round() do. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Nearest (integer division) or bilinear (PyTorch align_corners=False) upsampling of packed RGBA8 [h, w] by s. */
export function upsampleRef(src: ArrayLike<number>, h: number, w: number, s: number, mode: 'nearest' | 'bilinear'): Uint32Array {
  const out = new Uint32Array(h * s * w * s);
  const coordinate = (dst: number, size: number): [number, number, number] => {
    const c = Math.max((dst + 0.5) / s - 0.5, 0);
    const first = Math.min(Math.floor(c), size - 1);
    return [first, Math.min(first + 1, size - 1), c - first];
  };
  for (let y = 0; y < h * s; y++) {
    for (let x = 0; x < w * s; x++) {
      if (mode === 'nearest') {
        out[y * w * s + x] = src[Math.floor(y / s) * w + Math.floor(x / s)]!;
        continue;
      }
      const [y0, y1, ly] = coordinate(y, h);
      const [x0, x1, lx] = coordinate(x, w);
      const [a, b, c, d] = [src[y0 * w + x0]!, src[y0 * w + x1]!, src[y1 * w + x0]!, src[y1 * w + x1]!].map(unpackRgba);
      const rgba = [0, 1, 2, 3].map((ch) => {
        const v = (1 - ly) * ((1 - lx) * a![ch]! + lx * b![ch]!) + ly * ((1 - lx) * c![ch]! + lx * d![ch]!);
        return Math.min(255, Math.max(0, roundHalfEven(v)));
      });
      out[y * w * s + x] = packRgba(rgba[0]!, rgba[1]!, rgba[2]!, rgba[3]!);
    }
  }
  return out;
}

/**
 * One 32-bit rolling hash per image row (h = 31·h + pixel, wrapping): a compact digest for outputs too
 * large to ship from the browser, which still changes when any pixel or its position does.
 */
export function rowHashes(pixels: ArrayLike<number>, height: number, width: number): Uint32Array {
  const out = new Uint32Array(height);
  for (let y = 0; y < height; y++) {
    let h = 0;
    for (let x = 0; x < width; x++) h = (Math.imul(h, 31) + pixels[y * width + x]!) >>> 0;
    out[y] = h;
  }
  return out;
}
