/**
 * Images in, model pixels out: decoding, channel conversion, and Hugging Face `ViTImageProcessor`'s
 * preprocessing, computed exactly as PIL and transformers compute it.
 *
 *  - decode: PNG with `pngjs`, JPEG with `jpeg-js` in Node; the browser's own decoder elsewhere;
 *  - channels: RGBA pixels become RGB (3-channel models) or luma L (1-channel models) with PIL's
 *    `convert` rules: alpha is dropped, not composited; L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16;
 *  - resize: PIL's `Image.resize` on the 8-bit image, which transformers' `resize` calls: a separable
 *    filter, horizontal pass then vertical, each rounded back to 8 bits in 22-bit fixed point. When
 *    downscaling, the filter is stretched by the scale factor, so it averages every source pixel
 *    under an output pixel (antialiasing); torch's F.interpolate(antialias=False) does not;
 *  - rescale and normalise in float32: (float32(v · rescale_factor) − mean) / std, laid out CHW.
 */

import { ShapeError, TesseraError } from '../../device/errors.ts';
import { asBytes, readFileBytes } from '../io.ts';
import type { ImageProcessorConfig } from './config.ts';

/** 8-bit RGBA pixels, row-major, 4 bytes per pixel (an `ImageData` is one). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

/**
 * What `VisionTransformer.classify` accepts: RGBA pixels (`ImageData` included), encoded PNG or JPEG
 * bytes, or in a browser anything `drawImage` draws (`ImageBitmap`, an `<img>`, a canvas).
 */
export type ImageInput = RgbaImage | ArrayBuffer | ArrayBufferView | CanvasImageSource;

/** An image that cannot be read or decoded, or pixels of the wrong size. */
export class ImageError extends TesseraError {
  override name = 'ImageError';
}

// ---- decoding -----------------------------------------------------------------------------------

type ImageFormat = 'png' | 'jpeg';

function sniff(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** The most pixels an image may have: 8192 × 8192 (256 MiB as RGBA), far above any classifier's input. */
export const MAX_IMAGE_PIXELS = 8192 * 8192;
/** Deflate expands at most 1032:1, so a PNG's pixel rows can be at most this many times its IDAT bytes. */
const DEFLATE_MAX_RATIO = 1032;
/**
 * A baseline JPEG spends at least 2 bits (a DC and an end-of-block code) per 8×8 block per
 * component, so it holds at most 256 pixels per byte; a claim past that is a corrupt header.
 */
const BASELINE_JPEG_PIXELS_PER_BYTE = 256;

/**
 * Check the width and height a PNG or JPEG header claims against MAX_IMAGE_PIXELS and against what
 * the file's length can hold, before a decoder allocates a buffer of the claimed size.
 */
function checkClaimedSize(bytes: Uint8Array, format: ImageFormat, source: string): void {
  const claim = format === 'png' ? pngClaim(bytes) : jpegClaim(bytes);
  if (!claim) return; // no header found: the decoder reports what is wrong
  const { width, height, limit, what } = claim;
  const pixels = width * height;
  if (width < 1 || height < 1) throw new ImageError(`${source}: the ${format.toUpperCase()} header says ${width}×${height} pixels; an image has at least 1×1`);
  if (pixels > MAX_IMAGE_PIXELS) {
    throw new ImageError(`${source}: the ${format.toUpperCase()} header says ${width}×${height} pixels, more than the limit of ${MAX_IMAGE_PIXELS} (8192×8192)`);
  }
  if (limit !== undefined && claim.needed > limit) {
    throw new ImageError(`${source}: the ${format.toUpperCase()} header says ${width}×${height} pixels but ${what} (corrupt or truncated file)`);
  }
}

interface SizeClaim {
  width: number;
  height: number;
  /** What the claim needs and the most the file can give, in the same unit. */
  needed: number;
  limit?: number;
  what: string;
}

/** IHDR's size, and the raw bytes of its pixel rows against the IDAT chunks' total length. */
function pngClaim(bytes: Uint8Array): SizeClaim | null {
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16), height = view.getUint32(20);
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[bytes[25]!] ?? 4;
  const bitsPerPixel = channels * bytes[24]!;
  const rowBytes = 1 + Math.ceil((width * bitsPerPixel) / 8); // each row leads with its filter byte
  let idat = 0;
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'IDAT') idat += Math.min(length, bytes.length - at - 8);
    at += 12 + length;
  }
  const limit = DEFLATE_MAX_RATIO * idat + 1024;
  return { width, height, needed: height * rowBytes, limit, what: `its ${idat} bytes of compressed data (IDAT) inflate to at most ${limit} bytes, not the ${height * rowBytes} these need` };
}

/** The frame header's size (SOF0–SOF15); for baseline JPEGs, the pixels against the file's length. */
function jpegClaim(bytes: Uint8Array): SizeClaim | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 2; at + 9 <= bytes.length; ) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) { at++; continue; } // fill byte
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = view.getUint16(at + 5), width = view.getUint16(at + 7);
      const baseline = marker === 0xc0 || marker === 0xc1;
      const limit = baseline ? BASELINE_JPEG_PIXELS_PER_BYTE * bytes.length : undefined;
      return { width, height, needed: width * height, limit, what: `a baseline JPEG of ${bytes.length} bytes holds at most ${limit} pixels` };
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { at += 2; continue; }
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

/** Node packages imported by a variable name, so browser bundles leave them out. */
async function nodeImport<T>(name: string): Promise<T> {
  return (await import(/* @vite-ignore */ name)) as T;
}

const isBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined' || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

/**
 * Decode PNG or JPEG bytes to RGBA. Node uses pngjs and jpeg-js (16-bit PNGs are scaled to 8 bits);
 * a browser uses its own decoder through `createImageBitmap` (exact for opaque PNGs; a canvas
 * premultiplies alpha, so translucent pixels may lose precision: pass RGBA pixels for those).
 */
export async function decodeImage(data: ArrayBuffer | ArrayBufferView, source = 'image'): Promise<RgbaImage> {
  const bytes = asBytes(data);
  const format = sniff(bytes);
  if (!format) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageError(`${source}: not a PNG or JPEG file (starts with ${head || 'nothing'})`);
  }
  checkClaimedSize(bytes, format, source);
  try {
    if (isBrowser()) {
      const bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      try {
        return drawToRgba(bitmap, bitmap.width, bitmap.height);
      } finally {
        bitmap.close();
      }
    }
    if (format === 'png') {
      const { PNG } = await nodeImport<typeof import('pngjs')>('pngjs');
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    const jpeg = await nodeImport<typeof import('jpeg-js')>('jpeg-js');
    const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    return { width: decoded.width, height: decoded.height, data: decoded.data };
  } catch (err) {
    throw new ImageError(`${source}: cannot decode this ${format.toUpperCase()} file (${(err as Error).message})`);
  }
}

/** Node: read and decode a PNG or JPEG file. */
export async function loadImage(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (err) {
    throw new ImageError(`cannot read image '${path}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeImage(bytes, path);
}

/** Browser: the pixels of anything a 2D canvas can draw. */
function drawToRgba(source: CanvasImageSource, width: number, height: number): RgbaImage {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new ImageError('this browser gives no 2D canvas context to read image pixels with');
  context.drawImage(source, 0, 0);
  return context.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
}

function isRgbaImage(input: unknown): input is RgbaImage {
  const i = input as RgbaImage;
  return typeof i === 'object' && i !== null && typeof i.width === 'number' && typeof i.height === 'number' && (i.data instanceof Uint8Array || i.data instanceof Uint8ClampedArray);
}

/** Any accepted input as checked RGBA pixels; `source` names it in errors. */
export async function toRgbaImage(input: ImageInput, source = 'image'): Promise<RgbaImage> {
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return decodeImage(input, source);
  if (isRgbaImage(input)) {
    const { width, height, data } = input;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ImageError(`${source}: bad size ${width}×${height}`);
    if (data.length !== width * height * 4) {
      throw new ImageError(`${source}: ${width}×${height} RGBA pixels need ${width * height * 4} bytes, got ${data.length}`);
    }
    return input;
  }
  const drawable = input as { width?: unknown; height?: unknown; naturalWidth?: number; naturalHeight?: number; displayWidth?: number; displayHeight?: number };
  const width = drawable.naturalWidth ?? drawable.displayWidth ?? drawable.width;
  const height = drawable.naturalHeight ?? drawable.displayHeight ?? drawable.height;
  if (typeof OffscreenCanvas === 'undefined' || typeof width !== 'number' || typeof height !== 'number') {
    throw new ImageError(`${source}: expected RGBA pixels {width, height, data}, PNG/JPEG bytes, or (in a browser) an ImageBitmap, image or canvas`);
  }
  return drawToRgba(input as CanvasImageSource, width, height);
}

// ---- channels -----------------------------------------------------------------------------------

/** RGBA → interleaved RGB (3) or L (1) bytes, [H, W, channels], with PIL's convert('RGB') / convert('L'). */
export function convertChannels(image: RgbaImage, channels: 1 | 3): Uint8Array {
  const n = image.width * image.height;
  const rgba = image.data;
  const out = new Uint8Array(n * channels);
  if (channels === 3) {
    for (let i = 0; i < n; i++) {
      out[3 * i] = rgba[4 * i]!;
      out[3 * i + 1] = rgba[4 * i + 1]!;
      out[3 * i + 2] = rgba[4 * i + 2]!;
    }
  } else {
    // ITU-R 601-2 luma in 16-bit fixed point, rounded, as PIL's rgb2l (grey pixels stay exact).
    for (let i = 0; i < n; i++) out[i] = (rgba[4 * i]! * 19595 + rgba[4 * i + 1]! * 38470 + rgba[4 * i + 2]! * 7471 + 0x8000) >>> 16;
  }
  return out;
}

// ---- resize (PIL's ImagingResample, 8 bits per channel) ------------------------------------------

interface Filter {
  support: number;
  weight(x: number): number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));

/** PIL's filters by number (Image.Resampling), with PIL's supports and formulas. */
const FILTERS: Record<number, Filter> = {
  1: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) }, // Lanczos
  2: { support: 1, weight: (x) => Math.max(0, 1 - Math.abs(x)) }, // bilinear (triangle)
  3: {
    support: 2, // bicubic, a = −0.5
    weight(x) {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  4: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) }, // box
  5: {
    support: 1, // Hamming
    weight(x) {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (0.54 + 0.46 * Math.cos(x));
    },
  },
};

/** Fixed-point fraction bits of PIL's 8-bit resampling (32 − 8 − 2). */
const PRECISION_BITS = 22;

/** Per output index: first input index, tap count, and integer weights (PIL's precompute_coeffs + normalize_coeffs_8bpc). */
function resampleCoefficients(inSize: number, outSize: number, filter: Filter): { first: Int32Array; taps: Int32Array; weights: Int32Array; kernelSize: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1); // downscaling stretches the filter: antialiasing
  const support = filter.support * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize), taps = new Int32Array(outSize), weights = new Int32Array(outSize * kernelSize);
  const inverse = 1 / filterScale; // PIL multiplies by this (dividing could differ in the last bit)
  const w = new Float64Array(kernelSize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < count; x++) total += w[x] = filter.weight((x + xmin - center + 0.5) * inverse);
    for (let x = 0; x < count; x++) {
      const normalised = total !== 0 ? w[x]! / total : w[x]!;
      weights[xx * kernelSize + x] = Math.trunc(normalised < 0 ? -0.5 + normalised * (1 << PRECISION_BITS) : 0.5 + normalised * (1 << PRECISION_BITS));
    }
    first[xx] = xmin;
    taps[xx] = count;
  }
  return { first, taps, weights, kernelSize };
}

/** One separable pass along x (`horizontal`) or y, rounding to 8 bits like PIL's clip8. */
function resamplePass(src: Uint8Array, width: number, height: number, channels: number, outSize: number, horizontal: boolean, filter: Filter): Uint8Array {
  const inSize = horizontal ? width : height;
  const { first, taps, weights, kernelSize } = resampleCoefficients(inSize, outSize, filter);
  const outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * channels);
  const step = horizontal ? channels : width * channels; // bytes between neighbouring taps
  const half = 1 << (PRECISION_BITS - 1);
  const one = 2 ** PRECISION_BITS;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const base = horizontal ? (y * width + first[o]!) * channels : (first[o]! * width + x) * channels;
      const k = o * kernelSize;
      for (let c = 0; c < channels; c++) {
        let sum = half;
        for (let t = 0; t < taps[o]!; t++) sum += src[base + t * step + c]! * weights[k + t]!;
        out[(y * outW + x) * channels + c] = Math.min(255, Math.max(0, Math.floor(sum / one)));
      }
    }
  }
  return out;
}

/**
 * Resize interleaved 8-bit pixels [height, width, channels] to [outHeight, outWidth, channels]
 * exactly as PIL's `Image.resize(…, resample)` does: horizontal pass, then vertical, each skipped
 * when that side keeps its size.
 */
export function resizePil(pixels: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number, resample = 2): Uint8Array {
  const filter = FILTERS[resample];
  if (!filter) throw new RangeError(`resize: PIL filter ${resample} is not supported (1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming)`);
  if (!(outWidth >= 1 && outHeight >= 1)) throw new RangeError(`resize: bad output size ${outWidth}×${outHeight}`);
  let out = pixels;
  if (outWidth !== width) out = resamplePass(out, width, height, channels, outWidth, true, filter);
  if (outHeight !== height) out = resamplePass(out, outWidth, height, channels, outHeight, false, filter);
  return out;
}

// ---- the whole preprocessing --------------------------------------------------------------------

/** Interleaved 8-bit pixels [H, W, C] → float32 [C, H, W]: (float32(v · rescale) − mean) / std, in float32 steps. */
export function normalizePixels(pixels: Uint8Array, width: number, height: number, channels: number, p: ImageProcessorConfig): Float32Array {
  const out = new Float32Array(channels * width * height);
  const plane = width * height;
  const f = Math.fround;
  const mean = p.mean.map(f), std = p.std.map(f);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < plane; i++) {
      let v = pixels[i * channels + c]!;
      if (p.doRescale) v = f(v * p.rescaleFactor);
      if (p.doNormalize) v = f(f(v - mean[c]!) / std[c]!);
      out[c * plane + i] = v;
    }
  }
  return out;
}

/**
 * An RGBA image → the model's input, float32 [channels, height, width], as HF's
 * `ViTImageProcessor` makes it (see the file's header). Without `doResize` the image must
 * already have the configured size.
 */
export function preprocessImage(image: RgbaImage, p: ImageProcessorConfig, channels: 1 | 3, source = 'image'): Float32Array {
  let pixels = convertChannels(image, channels);
  if (p.doResize) pixels = resizePil(pixels, image.width, image.height, channels, p.width, p.height, p.resample);
  else if (image.width !== p.width || image.height !== p.height) {
    throw new ShapeError(`${source}: image is ${image.width}×${image.height} but the model takes ${p.width}×${p.height} and its preprocessor_config.json has do_resize = false`);
  }
  return normalizePixels(pixels, p.width, p.height, channels, p);
}
