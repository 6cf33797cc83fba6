/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 *   { "<name>": { "dtype": "F32", "shape": [768, 2304], "data_offsets": [begin, end] }, ...,
 *     "__metadata__": { "<key>": "<string>" } }
 * (padded with spaces), then the raw little-endian tensor data; offsets are relative to the data start.
 *
 * `parseSafetensors` validates the whole header up front, so a truncated or corrupt file fails at load
 * with a message naming the file and the tensor, not later inside a kernel.
 */

import { f16BitsToF32, f32ToF16Bits, formatShape, shapeSize } from '../device/dtype.ts';
import { CheckpointError, jsonForMessage } from './errors.ts';
import { asBytes, fetchBytes, readFileBytes } from './io.ts';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const SAFETENSORS_DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Where the tensor's bytes start in the whole file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** Header lengths beyond this are corrupt files, not real checkpoints (the reference reader caps at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in file order. */
  readonly names: readonly string[];
  /** Every tensor's shape, by name (what `validateCheckpoint` checks). */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  private readonly entries: ReadonlyMap<string, SafetensorsEntry>;

  constructor(
    /** The file name or URL, quoted in every error. */
    readonly source: string,
    private readonly bytes: Uint8Array,
    entries: SafetensorsEntry[],
    metadata: Record<string, string>,
  ) {
    this.metadata = metadata;
    this.names = entries.map((e) => e.name);
    this.entries = new Map(entries.map((e) => [e.name, e]));
    this.shapes = new Map(entries.map((e) => [e.name, e.shape]));
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new CheckpointError(`safetensors '${this.source}': no tensor '${name}' (it holds ${this.names.length} tensors${nearby(name, this.names)})`);
    return entry;
  }

  /** The tensor's raw little-endian bytes (a view into the file; do not modify). */
  raw(name: string): Uint8Array {
    const e = this.entry(name);
    return this.bytes.subarray(e.byteOffset, e.byteOffset + e.byteLength);
  }

  /**
   * F32, F16, BF16 or F64 data as float32. F32 data is returned as a view into the file when it is
   * 4-byte aligned (no copy for large checkpoints), so treat the result as read-only.
   */
  float32(name: string): Float32Array {
    const e = this.entry(name);
    const raw = this.raw(name);
    const n = shapeSize(e.shape);
    switch (e.dtype) {
      case 'F32':
        return typedView(raw, n, 4, Float32Array);
      case 'F16': {
        const bits = typedView(raw, n, 2, Uint16Array);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = f16BitsToF32(bits[i]!);
        return out;
      }
      case 'BF16': {
        const bits = typedView(raw, n, 2, Uint16Array);
        const out = new Float32Array(n);
        const words = new Uint32Array(out.buffer); // bfloat16 is the high half of a float32
        for (let i = 0; i < n; i++) words[i] = bits[i]! << 16;
        return out;
      }
      case 'F64':
        return Float32Array.from(typedView(raw, n, 8, Float64Array));
      default:
        throw this.dtypeError(e, 'float32', 'F32, F16, BF16 or F64');
    }
  }

  /** F16 data as raw IEEE half bits (for f16 GPU tensors); F32, BF16 and F64 are rounded to half. */
  f16Bits(name: string): Uint16Array {
    const e = this.entry(name);
    if (e.dtype === 'F16') return typedView(this.raw(name), shapeSize(e.shape), 2, Uint16Array);
    if (e.dtype === 'F32' || e.dtype === 'BF16' || e.dtype === 'F64') {
      const values = this.float32(name);
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
      return out;
    }
    throw this.dtypeError(e, 'f16 bits', 'F16, F32, BF16 or F64');
  }

  /** Integer and boolean data as int32; I64/U64/U32 values outside the int32 range are an error. */
  int32(name: string): Int32Array {
    const e = this.entry(name);
    const raw = this.raw(name);
    const n = shapeSize(e.shape);
    if (e.dtype === 'I32') return typedView(raw, n, 4, Int32Array);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const read: ((i: number) => number | bigint) | undefined = {
      I64: (i: number) => view.getBigInt64(i * 8, true),
      U64: (i: number) => view.getBigUint64(i * 8, true),
      U32: (i: number) => view.getUint32(i * 4, true),
      I16: (i: number) => view.getInt16(i * 2, true),
      U16: (i: number) => view.getUint16(i * 2, true),
      I8: (i: number) => view.getInt8(i),
      U8: (i: number) => view.getUint8(i),
      BOOL: (i: number) => view.getUint8(i),
    }[e.dtype as string];
    if (!read) throw this.dtypeError(e, 'int32', 'an integer or BOOL dtype');
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = read(i);
      if (v > 0x7fffffff || v < -0x80000000) {
        throw new CheckpointError(`safetensors '${this.source}': tensor '${name}' (${e.dtype}) element ${i} = ${v} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }

  private dtypeError(e: SafetensorsEntry, wanted: string, accepted: string): CheckpointError {
    return new CheckpointError(`safetensors '${this.source}': tensor '${e.name}' is ${e.dtype}; reading it as ${wanted} needs ${accepted}`);
  }
}

/** Parse a whole safetensors file held in memory. `source` (file name or URL) is quoted in errors. */
export function parseSafetensors(data: ArrayBuffer | ArrayBufferView, source = '<buffer>'): SafetensorsFile {
  const bytes = asBytes(data);
  const fail = (message: string) => new CheckpointError(`safetensors '${source}': ${message}`);
  if (bytes.byteLength < 8) throw fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLength} is implausible (over ${MAX_HEADER_BYTES} bytes): not a safetensors file?`);
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.byteLength) {
    throw fail(`header says ${headerLength} bytes of JSON but the file has only ${bytes.byteLength - 8} after the length (truncated)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw fail(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object');

  const dataLength = bytes.byteLength - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, fail);
      continue;
    }
    const tensorFail = (message: string) => fail(`tensor '${name}': ${message}`);
    if (typeof value !== 'object' || value === null) throw tensorFail('header entry is not an object');
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
      throw tensorFail(`unknown dtype ${jsonForMessage(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw tensorFail(`shape ${jsonForMessage(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw tensorFail(`data_offsets ${jsonForMessage(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) {
      throw tensorFail(`data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes; file truncated?)`);
    }
    const type = dtype as SafetensorsDType;
    const expectedBytes = shapeSize(shape) * SAFETENSORS_DTYPE_BYTES[type];
    if (end - begin !== expectedBytes) {
      throw tensorFail(`${type} ${formatShape(shape)} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype: type, shape, byteOffset: dataStart + begin, byteLength: end - begin });
  }

  const byStart = [...entries].sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < byStart.length; i++) {
    const previous = byStart[i - 1]!;
    const current = byStart[i]!;
    if (current.byteOffset < previous.byteOffset + previous.byteLength) {
      throw fail(`tensors '${previous.name}' and '${current.name}' overlap in the data section (corrupt header)`);
    }
  }
  return new SafetensorsFile(source, bytes, entries, metadata);
}

/** Node: read and parse a safetensors file by path. */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFileBytes(path), path);
}

/** Browser or Node: fetch and parse a safetensors file. */
export async function fetchSafetensors(url: string | URL, init?: RequestInit): Promise<SafetensorsFile> {
  return parseSafetensors(await fetchBytes(url, init), String(url));
}

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: readonly number[];
  /**
   * Either a typed array already in the stored encoding (Float32Array for F32, Uint16Array of half or
   * bfloat16 bits for F16/BF16, Int32Array for I32, BigInt64Array for I64, ...), or plain numbers /
   * Float32Array values that are converted to `dtype` (F16 and BF16 round to nearest even).
   */
  data: ArrayLike<number> | BigInt64Array | BigUint64Array;
}

/** Serialize tensors (in the given order) and optional string metadata to safetensors bytes. */
export function writeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new CheckpointError(`writeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    const chunk = encodeTensor(name, tensor);
    header[name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + chunk.byteLength] };
    chunks.push(chunk);
    offset += chunk.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const jsonBytes = () => new TextEncoder().encode(json);
  while ((8 + jsonBytes().byteLength) % 8 !== 0) json += ' ';
  const headerBytes = jsonBytes();
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function encodeTensor(name: string, { dtype, shape, data }: SafetensorsTensor): Uint8Array {
  const n = shapeSize(shape);
  if (!(dtype in SAFETENSORS_DTYPE_BYTES)) throw new CheckpointError(`writeSafetensors: tensor '${name}' has unknown dtype '${dtype}'`);
  if (data.length !== n) {
    throw new CheckpointError(`writeSafetensors: tensor '${name}' has shape ${formatShape(shape)} (${n} elements) but ${data.length} values`);
  }
  const out = new Uint8Array(n * SAFETENSORS_DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  const isBits = data instanceof Uint16Array;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    switch (dtype) {
      case 'F64': view.setFloat64(i * 8, Number(v), true); break;
      case 'F32': view.setFloat32(i * 4, Number(v), true); break;
      case 'F16': view.setUint16(i * 2, isBits ? Number(v) : f32ToF16Bits(Number(v)), true); break;
      case 'BF16': view.setUint16(i * 2, isBits ? Number(v) : f32ToBf16Bits(Number(v)), true); break;
      case 'I64': view.setBigInt64(i * 8, BigInt(v), true); break;
      case 'U64': view.setBigUint64(i * 8, BigInt(v), true); break;
      case 'I32': view.setInt32(i * 4, Number(v), true); break;
      case 'U32': view.setUint32(i * 4, Number(v), true); break;
      case 'I16': view.setInt16(i * 2, Number(v), true); break;
      case 'U16': view.setUint16(i * 2, Number(v), true); break;
      case 'I8': view.setInt8(i, Number(v)); break;
      case 'U8': view.setUint8(i, Number(v)); break;
      case 'BOOL': view.setUint8(i, v ? 1 : 0); break;
    }
  }
  return out;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → bfloat16 bits, round to nearest even (bfloat16 is the top half of a float32). */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // NaN stays a (quiet) NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0]!;
}

function parseMetadata(value: unknown, fail: (message: string) => CheckpointError): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('__metadata__ is not an object');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(`__metadata__ entry '${key}' is ${jsonForMessage(v)}, not a string`);
  }
  return value as Record<string, string>;
}

type TypedArrayConstructor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** A typed view of `raw` when aligned, else of an aligned copy. */
function typedView<T>(raw: Uint8Array, length: number, bytesPerElement: number, Type: TypedArrayConstructor<T>): T {
  if (raw.byteOffset % bytesPerElement === 0) return new Type(raw.buffer as ArrayBuffer, raw.byteOffset, length);
  return new Type(raw.slice().buffer, 0, length);
}

/** ", e.g. 'a', 'b'" listing names that share the missing name's last segment, to help spot prefix mix-ups. */
function nearby(name: string, names: readonly string[]): string {
  const tail = name.slice(name.lastIndexOf('.') + 1);
  const similar = names.filter((n) => n.endsWith(name) || name.endsWith(n) || n.endsWith(`.${tail}`)).slice(0, 3);
  return similar.length ? `; similar: ${similar.map((s) => `'${s}'`).join(', ')}` : '';
}
