/**
 * The mutator library: generic byte mutations, JSON value mutations, and the structured mutations
 * of each binary format (safetensors headers, llama2.c headers, PNG and JPEG chunks, .npy headers),
 * each aimed at one way a loader can trust a file too much: lengths and shapes it does not check
 * against the data, sizes it allocates before checking, nesting it recurses into.
 */

import type { Rng } from './prng.ts';

// ---- bytes --------------------------------------------------------------------------------------

/** Integers that break length and offset arithmetic: zero, one, sign bits, 32-bit edges, huge. */
export const INTERESTING_INTS = [0, 1, 2, 3, 7, 8, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, -1, -2, 1e6, 1e9, 100_000, 2 ** 53];

export function flipBits(rng: Rng, data: Uint8Array, count = 1 + rng.int(8)): Uint8Array {
  const out = data.slice();
  for (let i = 0; i < count && out.length > 0; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
}

export function setBytes(rng: Rng, data: Uint8Array): Uint8Array {
  const out = data.slice();
  const count = 1 + rng.int(4);
  for (let i = 0; i < count && out.length > 0; i++) out[rng.int(out.length)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
  return out;
}

/** Overwrite a 4- or 8-byte little-endian integer somewhere (inside the first bytes more often: headers live there). */
export function writeInt(rng: Rng, data: Uint8Array, at?: number): Uint8Array {
  const out = data.slice();
  const wide = rng.chance(0.3);
  const width = wide ? 8 : 4;
  if (out.length < width) return out;
  const limit = rng.chance(0.7) ? Math.min(out.length - width, 64) : out.length - width;
  const offset = at ?? rng.int(limit + 1);
  const view = new DataView(out.buffer);
  const value = rng.pick(INTERESTING_INTS);
  if (wide) view.setBigUint64(offset, BigInt.asUintN(64, BigInt(Math.trunc(value))), true);
  else view.setUint32(offset, value >>> 0, true);
  return out;
}

export function truncate(rng: Rng, data: Uint8Array, boundaries: readonly number[] = []): Uint8Array {
  const points = boundaries.filter((b) => b >= 0 && b <= data.length);
  if (points.length > 0 && rng.chance(0.7)) {
    const at = rng.pick(points) + rng.pick([-1, 0, 0, 1]);
    return data.slice(0, Math.max(0, Math.min(data.length, at)));
  }
  return data.slice(0, rng.int(data.length + 1));
}

export function deleteRange(rng: Rng, data: Uint8Array): Uint8Array {
  if (data.length === 0) return data;
  const start = rng.int(data.length);
  const end = Math.min(data.length, start + 1 + rng.int(64));
  return concat(data.subarray(0, start), data.subarray(end));
}

export function insertRange(rng: Rng, data: Uint8Array): Uint8Array {
  const at = rng.int(data.length + 1);
  const count = 1 + rng.int(64);
  const filler = Uint8Array.from({ length: count }, () => rng.pick([0, 0xff, rng.int(256)]));
  return concat(data.subarray(0, at), filler, data.subarray(at));
}

/** Copy one stretch of the file over another (repeated records, overlapping chunks). */
export function duplicateRange(rng: Rng, data: Uint8Array): Uint8Array {
  if (data.length < 2) return data;
  const out = data.slice();
  const length = 1 + rng.int(Math.min(256, data.length - 1));
  const from = rng.int(data.length - length + 1);
  const to = rng.int(data.length - length + 1);
  out.copyWithin(to, from, from + length);
  return out;
}

/** One generic byte mutation, with header boundaries for truncation. */
export function mutateBytes(rng: Rng, data: Uint8Array, boundaries: readonly number[] = []): Uint8Array {
  switch (rng.int(7)) {
    case 0: return flipBits(rng, data);
    case 1: return setBytes(rng, data);
    case 2: return writeInt(rng, data);
    case 3: return truncate(rng, data, boundaries);
    case 4: return deleteRange(rng, data);
    case 5: return insertRange(rng, data);
    default: return duplicateRange(rng, data);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- JSON values --------------------------------------------------------------------------------

export type JsonValue = unknown;

/** An array nested `depth` deep: recursive walkers and JSON.stringify overflow the stack on these. */
export function deeplyNested(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** The text of an array nested `depth` deep, for parsers that read text. */
export function deeplyNestedText(depth: number): string {
  return '['.repeat(depth) + '1' + ']'.repeat(depth);
}

/** Values a config field should never hold. NaN and Infinity are what Python's json.dump writes for them. */
export function absurdValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => NaN,
    () => Infinity,
    () => -Infinity,
    () => 1e308,
    () => -1,
    () => 0,
    () => 0.5,
    () => 2 ** 53 + 2,
    () => 2 ** 31,
    () => 1e9,
    () => 100_000,
    () => -(2 ** 31),
    () => '12',
    () => '',
    () => null,
    () => true,
    () => [],
    () => [1, 2, 3],
    () => ({}),
    () => ({ content: 1 }),
    () => deeplyNested(rng.pick([100, 2_000, 5_000])),
    () => JSON.parse(deeplyNestedText(100_000)), // what JSON.parse gives loaders for a 100,000-deep file
    () => 'x'.repeat(rng.pick([1_000, 100_000])),
    () => Array.from({ length: rng.pick([1_000, 100_000]) }, (_, i) => i),
    () => '__proto__',
  ])();
}

/** Every (parent, key) of a JSON tree, breadth first, up to a bound. */
function slots(root: unknown, limit = 2000): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const queue: unknown[] = [root];
  while (queue.length > 0 && out.length < limit) {
    const node = queue.shift();
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        out.push({ parent: node, key: i });
        queue.push(v);
      });
    } else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        out.push({ parent: node as Record<string, unknown>, key: k });
        queue.push(v);
      }
    }
  }
  return out;
}

/** Replace, delete or copy one value somewhere in a JSON tree (mutates `root`, returns it). */
export function mutateJsonValue(rng: Rng, root: unknown): unknown {
  const all = slots(root);
  if (all.length === 0) return absurdValue(rng);
  // Top-level keys are the config fields: hit them more often than deep leaves.
  const top = all.filter((s) => s.parent === root);
  const { parent, key } = top.length > 0 && rng.chance(0.6) ? rng.pick(top) : rng.pick(all);
  const op = rng.int(10);
  if (op === 0 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
  else if (op === 1) {
    // Duplicate a sibling's value under this key (two fields claiming the same thing).
    const sibling = rng.pick(all.filter((s) => s.parent === parent));
    (parent as Record<string | number, unknown>)[key] = (sibling.parent as Record<string | number, unknown>)[sibling.key]; // shared, not cloned: it may be too deep to clone
  } else if (op === 2 && typeof (parent as Record<string | number, unknown>)[key] === 'number') {
    const v = (parent as Record<string | number, unknown>)[key] as number;
    (parent as Record<string | number, unknown>)[key] = rng.pick([v * 1000, v * 2 ** 20, v + 1, v - 1, -v, v / 3]);
  } else (parent as Record<string | number, unknown>)[key] = absurdValue(rng);
  return root;
}

/** A JSON tree's text, mutated at the text level now and then (bad syntax, deep nesting, stray bytes). */
export function jsonText(rng: Rng, value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch {
    return deeplyNestedText(100_000); // a value too deep to serialize: send the text equivalent
  }
  switch (rng.int(8)) {
    case 0: return text.slice(0, rng.int(text.length + 1));
    case 1: return deeplyNestedText(rng.pick([1_000, 100_000]));
    case 2: {
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + rng.pick(['NaN', 'Infinity', '-Infinity', '1e999', '"\\ud800"', '\u0000', ',', '}', '{"__proto__": {"x": 1}}']) + text.slice(at);
    }
    default: return text;
  }
}

// ---- safetensors --------------------------------------------------------------------------------

interface SafetensorsParts {
  header: Record<string, unknown>;
  data: Uint8Array;
}

export function splitSafetensors(file: Uint8Array): SafetensorsParts {
  const n = Number(new DataView(file.buffer, file.byteOffset, file.byteLength).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>, data: file.subarray(8 + n) };
}

export function joinSafetensors(header: unknown, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The header boundaries of a safetensors file: the length field, the JSON's end, each tensor's begin and end. */
export function safetensorsBoundaries(file: Uint8Array): number[] {
  const { header } = splitSafetensors(file);
  const dataStart = file.length - splitSafetensors(file).data.length;
  const points = [0, 4, 8, dataStart];
  for (const entry of Object.values(header)) {
    const offsets = (entry as { data_offsets?: number[] }).data_offsets;
    if (offsets) points.push(dataStart + offsets[0]!, dataStart + offsets[1]!);
  }
  return points;
}

const DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'];

/** One structured safetensors mutation: header entries, the length field, or truncation at a boundary. */
export function mutateSafetensors(rng: Rng, file: Uint8Array): Uint8Array {
  const { header, data } = splitSafetensors(file);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  const entry = header[name] as { dtype: unknown; shape: unknown; data_offsets: unknown };
  const [begin, end] = entry.data_offsets as [number, number];
  const other = header[rng.pick(names)] as { data_offsets: [number, number]; shape: number[] };
  switch (rng.int(12)) {
    case 0: // shapes that disagree with the data, or are absurd
      entry.shape = rng.pick<unknown>([
        [-1], [1e15, 1e15], [2 ** 53], [2 ** 31, 2 ** 31, 4], [1.5], ['3'], [], [0], [null], deeplyNested(5_000),
        [...(entry.shape as number[]), 2], (entry.shape as number[]).slice(1), (entry.shape as number[]).map((d) => d * 2),
        [0, 1e300], Array.from({ length: 100_000 }, () => 1),
      ]);
      break;
    case 1: // wrong or unknown dtype
      entry.dtype = rng.pick<unknown>([...DTYPES, 'f32', 'F8_E4M3', 'Q4_0', '', 7, null]);
      break;
    case 2: // offsets that are huge, negative, reversed or past the data
      entry.data_offsets = rng.pick<unknown>([
        [0, 2 ** 60], [-4, end], [end, begin], [begin, data.length + 4], [2 ** 53, 2 ** 53 + 4], [begin + 1, end + 1],
        [begin], [begin, end, end], [1.5, end], 'x', null,
      ]);
      break;
    case 3: // overlap another tensor, or alias it exactly
      entry.data_offsets = rng.chance(0.5) ? [...other.data_offsets] : [other.data_offsets[0] + 1, other.data_offsets[0] + 1 + (end - begin)];
      break;
    case 4: // a duplicate tensor under another name
      header[`${name}.copy`] = structuredClone(entry);
      break;
    case 5: // metadata of the wrong kind
      header.__metadata__ = rng.pick<unknown>([{ format: 1 }, [], 'pt', deeplyNested(5_000), { a: deeplyNested(5_000) }, null]);
      break;
    case 6: // the entry itself the wrong kind
      header[name] = rng.pick<unknown>([null, 1, 'x', [], deeplyNested(5_000)]);
      break;
    case 7: { // the length field lies
      const length = BigInt(new TextEncoder().encode(JSON.stringify(header)).length);
      return joinSafetensors(header, data, rng.pick([0n, 1n, length - 1n, length + 1n, length + 8n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 99_999_999n]));
    }
    case 8: // the whole header replaced by something that is not an object
      return joinSafetensors(rng.pick<unknown>([[], null, 1, "x", deeplyNested(5_000)]), data);
    case 9:
      return truncate(rng, file, safetensorsBoundaries(file));
    default:
      mutateJsonValue(rng, header);
  }
  return joinSafetensors(header, data);
}

// ---- llama2.c checkpoints -----------------------------------------------------------------------

/** Overwrite one of the 7 header ints (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len). */
export function mutateLlama2cHeader(rng: Rng, file: Uint8Array): Uint8Array {
  if (file.length < 28) return file;
  const out = file.slice();
  const view = new DataView(out.buffer);
  const field = rng.int(7);
  const old = view.getInt32(field * 4, true);
  const value = rng.pick([0, -1, 1, 2, 3, old + 1, old - 1, old * 2, -old, 0x7fffffff, -0x80000000, 1 << 20, 1 << 30, 0x616b3432]);
  view.setInt32(field * 4, value | 0, true);
  return out;
}

// ---- PNG ----------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Chunk starts of a PNG file (offset of each chunk's length field), then the file's end. */
export function pngChunkBoundaries(file: Uint8Array): number[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const points = [0, 8];
  let at = 8;
  while (at + 8 <= file.length) {
    const length = view.getUint32(at); // big-endian, as PNG stores every integer
    at += 12 + length;
    points.push(at);
  }
  return points;
}

/** Set IHDR's width and height (the first chunk) and fix its CRC so the decoder believes it. */
export function setPngSize(file: Uint8Array, width: number, height: number): Uint8Array {
  if (file.length < 33) return file;
  const out = file.slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width >>> 0);
  view.setUint32(20, height >>> 0);
  view.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

export function mutatePng(rng: Rng, file: Uint8Array): Uint8Array {
  switch (rng.int(4)) {
    case 0: {
      const [w, h] = rng.pick([[100_000, 100_000], [1, 100_000], [100_000, 1], [0, 0], [0x7fffffff, 0x7fffffff], [0xffffffff, 1], [65_536, 65_536], [8_000, 8_000]]);
      return setPngSize(file, w!, h!);
    }
    case 1:
      return truncate(rng, file, pngChunkBoundaries(file));
    case 2: {
      // IHDR bit depth / colour type / interlace to other values, CRC fixed.
      if (file.length < 33) return file;
      const out = file.slice();
      out[24 + rng.int(5)] = rng.pick([0, 1, 2, 3, 4, 6, 8, 16, 255]);
      new DataView(out.buffer).setUint32(29, crc32(out.subarray(12, 29)));
      return out;
    }
    default:
      return mutateBytes(rng, file, pngChunkBoundaries(file));
  }
}

// ---- JPEG ---------------------------------------------------------------------------------------

/** Offsets of every JPEG marker (0xFF followed by a non-zero, non-0xFF byte). */
export function jpegMarkers(file: Uint8Array): number[] {
  const points: number[] = [];
  for (let i = 0; i + 1 < file.length; i++) if (file[i] === 0xff && file[i + 1] !== 0 && file[i + 1] !== 0xff) points.push(i);
  return points;
}

export function mutateJpeg(rng: Rng, file: Uint8Array): Uint8Array {
  const markers = jpegMarkers(file);
  switch (rng.int(3)) {
    case 0: {
      // The frame header (SOF0..SOF2): height at +5, width at +7, big-endian 16-bit.
      const sof = markers.find((m) => file[m + 1]! >= 0xc0 && file[m + 1]! <= 0xc2);
      if (sof === undefined || sof + 9 > file.length) return file;
      const out = file.slice();
      const view = new DataView(out.buffer);
      const [w, h] = rng.pick([[65_535, 65_535], [0, 0], [1, 65_535], [65_535, 1], [40_000, 40_000]]);
      view.setUint16(sof + 5, h!);
      view.setUint16(sof + 7, w!);
      return out;
    }
    case 1:
      return truncate(rng, file, markers);
    default:
      return mutateBytes(rng, file, markers);
  }
}

// ---- .npy ---------------------------------------------------------------------------------------

/** Rewrite the header dict of an .npy file with a mutated shape, descr or length. */
export function mutateNpy(rng: Rng, file: Uint8Array): Uint8Array {
  if (file.length < 10) return file;
  const headerLength = new DataView(file.buffer, file.byteOffset).getUint16(8, true);
  const data = file.subarray(10 + headerLength);
  const shape = rng.pick(['(4,)', '(-1,)', '(-2, -2)', '(1e9,)', '(NaN,)', '(2, 3)', '()', '(100000, 100000)', '(9007199254740993,)', '(,)', '(0,)', '(4, 0x1)']);
  const descr = rng.pick(["'<f4'", "'<f4'", "'>f4'", "'<f8'", "'|u1'", "''"]);
  const dict = `{'descr': ${descr}, 'fortran_order': ${rng.pick(['False', 'True', 'false'])}, 'shape': ${shape}, }`;
  const padded = rng.chance(0.2) ? dict + ' '.repeat(rng.pick([1_000, 60_000])) + '\n' : dict + '\n';
  const header = new TextEncoder().encode(padded);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(file.subarray(0, 8));
  const claimed = rng.chance(0.15) ? rng.pick([0, 0xffff, header.length + 1]) : header.length;
  new DataView(out.buffer).setUint16(8, Math.min(claimed, 0xffff), true);
  out.set(header, 10);
  out.set(data, 10 + header.length);
  return out;
}
