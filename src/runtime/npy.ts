/**
 * NumPy's `.npy` format (version 1.0), for handing tensors to Python: `np.load('logits.npy')`.
 *
 *   bytes 0..5   magic "\x93NUMPY"
 *   bytes 6..7   version 1, 0
 *   bytes 8..9   header length, u16 little-endian
 *   header       an ASCII Python dict literal, padded with spaces and ended by '\n' so that the data
 *                starts at a multiple of 64 bytes (numpy aligns it so the data can be memory-mapped)
 *   data         the elements in C (row-major) order
 *
 * Only little-endian float32 ('<f4') is written and read: that is what logits and activations are.
 * Host-side and free of Node APIs, so it works in the browser too.
 */

import { TesseraError } from '../device/errors.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGN = 64;

export class NpyError extends TesseraError {
  override name = 'NpyError';
}

/** Python's tuple syntax: a 1-tuple needs its trailing comma. */
function pythonTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Encode a float32 array of `shape` as an .npy file. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new NpyError(`npy: shape [${shape.join(', ')}] holds ${size} elements but the data has ${data.length}`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  const preamble = MAGIC.length + 2 + 2;
  const headerLength = Math.ceil((preamble + dict.length + 1) / ALIGN) * ALIGN - preamble;
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const out = new Uint8Array(preamble + headerLength + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerLength, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  // Copy through a byte view: the data need not be aligned in its own buffer, and this machine's
  // byte order is little-endian like '<f4' (as every WebGPU platform is).
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), preamble + headerLength);
  return out;
}

/** Decode an .npy file of little-endian float32 in C order (version 1.0 or 2.0 headers). */
export function decodeNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError('npy: not an .npy file (bad magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major !== 1 && major !== 2) throw new NpyError(`npy: unsupported version ${major}.${bytes[7]}`);
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerStart + headerLength > bytes.length) throw new NpyError(`npy: truncated header (${headerLength} bytes announced, ${bytes.length - headerStart} present)`);
  // Not String.fromCharCode(...bytes): a version-2 header may claim megabytes, too many arguments for one call.
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(`npy: malformed header ${JSON.stringify(header.slice(0, 200))}`);
  if (descr !== '<f4') throw new NpyError(`npy: only '<f4' (float32) is supported, got '${descr}'`);
  if (fortran === 'True') throw new NpyError('npy: Fortran-ordered arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new NpyError(`npy: shape (${shapeText.slice(0, 100)}) is not a tuple of non-negative integers`);
  const size = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  if (bytes.length - dataStart !== size * 4) {
    throw new NpyError(`npy: shape ${pythonTuple(shape)} needs ${size * 4} data bytes, the file has ${bytes.length - dataStart}`);
  }
  // Copy so the result is aligned whatever the input's offset.
  const data = new Float32Array(size);
  new Uint8Array(data.buffer).set(bytes.subarray(dataStart));
  return { shape, data };
}
