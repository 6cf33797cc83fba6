import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { f32ToF16Bits } from '../src/device/dtype.ts';
import { loadExpectedTensors, matchCheckpoint, type ExpectedTensor } from '../src/models/checkpoint.ts';
import { CheckpointError } from '../src/models/errors.ts';
import { bf16BitsToF32, f32ToBf16Bits, loadSafetensors, parseSafetensors, writeSafetensors } from '../src/models/safetensors.ts';
import { Rng } from './util/rng.ts';

/** A safetensors file assembled by hand, exactly as the spec lays it out (no padding unless given). */
function rawFile(header: object | string, data: Uint8Array, padTo = 1): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  while ((8 + json.length) % padTo !== 0) json += ' ';
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  out.set(data, 8 + jsonBytes.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

describe('safetensors: reading', () => {
  test('hand-made file with an unaligned data section (header length 29)', () => {
    const header = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
    const json = JSON.stringify(header);
    expect((8 + json.length) % 4).not.toBe(0); // the case that needs a copy, not a view
    const file = parseSafetensors(rawFile(header, f32Bytes([1, -2, 3.5, 1e-3])), 'hand.safetensors');
    expect(file.names).toEqual(['w']);
    expect(file.entry('w').shape).toEqual([2, 2]);
    expect(Array.from(file.float32('w'))).toEqual([1, -2, 3.5, Math.fround(1e-3)]);
    expect(file.metadata).toEqual({});
  });

  test('round trip of every dtype, metadata, scalars and empty tensors', () => {
    const rng = new Rng(7);
    const f32 = rng.normal(3 * 5 * 7);
    const f16Values = [0, 1, -2, 0.5, 65504, -1e-4, 3.140625, 1 / 3];
    const bytes = writeSafetensors(
      {
        'layer.0.weight': { dtype: 'F32', shape: [3, 5, 7], data: f32 },
        half: { dtype: 'F16', shape: [2, 4], data: f16Values },
        halfBits: { dtype: 'F16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) },
        brain: { dtype: 'BF16', shape: [4], data: [1, -3.140625, 0.5, 1e20] },
        double: { dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -0.1) },
        ints: { dtype: 'I32', shape: [3], data: Int32Array.of(-5, 0, 2147483647) },
        longs: { dtype: 'I64', shape: [2], data: [-(2 ** 31), 12345] },
        bytes: { dtype: 'U8', shape: [3], data: [0, 128, 255] },
        flags: { dtype: 'BOOL', shape: [2], data: [1, 0] },
        scalar: { dtype: 'F32', shape: [], data: [42] },
        empty: { dtype: 'F32', shape: [0, 3], data: [] },
      },
      { format: 'pt', note: 'tessera test' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0); // data section 8-byte aligned, like the reference writer

    const file = parseSafetensors(bytes, 'roundtrip');
    expect(file.metadata).toEqual({ format: 'pt', note: 'tessera test' });
    expect(file.names).toEqual(['layer.0.weight', 'half', 'halfBits', 'brain', 'double', 'ints', 'longs', 'bytes', 'flags', 'scalar', 'empty']);
    expect(Array.from(file.float32('layer.0.weight'))).toEqual(Array.from(f32));
    expect(file.shapes.get('layer.0.weight')).toEqual([3, 5, 7]);
    expect(Array.from(file.f16Bits('half'))).toEqual(f16Values.map(f32ToF16Bits));
    expect(Array.from(file.float32('half'))).toEqual([0, 1, -2, 0.5, 65504, expect.closeTo(-1e-4, 6), 3.140625, expect.closeTo(1 / 3, 3)]);
    expect(Array.from(file.float32('halfBits'))).toEqual([1, -2]);
    expect(Array.from(file.float32('brain'))).toEqual([1, -3.140625, 0.5, bf16BitsToF32(f32ToBf16Bits(1e20))]);
    expect(Array.from(file.f16Bits('brain')).slice(0, 3)).toEqual([f32ToF16Bits(1), f32ToF16Bits(-3.140625), f32ToF16Bits(0.5)]);
    expect(Array.from(file.float32('double'))).toEqual([Math.fround(Math.PI), Math.fround(-0.1)]);
    expect(Array.from(file.int32('ints'))).toEqual([-5, 0, 2147483647]);
    expect(Array.from(file.int32('longs'))).toEqual([-(2 ** 31), 12345]);
    expect(Array.from(file.int32('bytes'))).toEqual([0, 128, 255]);
    expect(Array.from(file.int32('flags'))).toEqual([1, 0]);
    expect(Array.from(file.float32('scalar'))).toEqual([42]);
    expect(file.float32('empty').length).toBe(0);
    expect(file.raw('ints').byteLength).toBe(12);
  });

  test('bfloat16 rounds to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049); // 0x40490fdb: low half below the midpoint
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // exact tie, even stays
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // exact tie, odd rounds up
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });

  test('loadSafetensors reads a file by path and names it in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-st-'));
    try {
      const path = join(dir, 'model.safetensors');
      writeFileSync(path, writeSafetensors({ a: { dtype: 'F32', shape: [2], data: [1, 2] } }));
      const file = await loadSafetensors(path);
      expect(Array.from(file.float32('a'))).toEqual([1, 2]);
      expect(() => file.entry('b')).toThrow(`safetensors '${path}': no tensor 'b'`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('safetensors: errors name the file and the tensor', () => {
  const good = writeSafetensors({ 'h.0.w': { dtype: 'F32', shape: [4, 4], data: new Float32Array(16) } });

  test.each([
    ['shorter than the length field', new Uint8Array(5), /'f\.st'.*too short for the 8-byte header length/],
    ['truncated header', good.subarray(0, 20), /'f\.st'.*header says \d+ bytes of JSON but the file has only 12/],
    ['truncated data', good.subarray(0, good.length - 4), /'f\.st': tensor 'h\.0\.w': data_offsets \[0, 64\] run past the end of the data \(60 bytes; file truncated\?\)/],
    ['header not JSON', rawFile('{"a": ', new Uint8Array(0)), /'f\.st': header is not valid JSON/],
    ['header not an object', rawFile('[1, 2]', new Uint8Array(0)), /header is not a JSON object/],
    ['implausible header length', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /implausible/],
  ])('%s', (_, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'f.st')).toThrow(message);
    expect(() => parseSafetensors(bytes, 'f.st')).toThrow(CheckpointError);
  });

  test.each([
    ['unknown dtype', { x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 8, /tensor 'x': unknown dtype "F8_E4M3"/],
    ['shape/byte-size mismatch', { x: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, 16, /tensor 'x': F32 \[3, 2\] needs 24 bytes but data_offsets \[0, 16\] span 16/],
    ['offsets out of range', { x: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 12, /tensor 'x': data_offsets \[8, 16\] run past the end of the data \(12 bytes/],
    ['reversed offsets', { x: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 12, /tensor 'x': data_offsets \[8,4\] is not \[begin, end\]/],
    ['bad shape', { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /tensor 'x': shape \[-1\] is not a list of non-negative integers/],
    ['overlap', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, /tensors 'x' and 'y' overlap/],
    ['metadata not strings', { __metadata__: { step: 5 } }, 0, /__metadata__ entry 'step' is 5, not a string/],
  ])('%s', (_, header, dataBytes, message) => {
    expect(() => parseSafetensors(rawFile(header, new Uint8Array(dataBytes)), 'f.st')).toThrow(message);
  });

  test('reading with the wrong accessor, and int32 overflow', () => {
    const file = parseSafetensors(
      writeSafetensors({ ids: { dtype: 'I64', shape: [2], data: [1, 2 ** 40] }, w: { dtype: 'F32', shape: [1], data: [1] } }),
      'mixed.st',
    );
    expect(() => file.float32('ids')).toThrow("safetensors 'mixed.st': tensor 'ids' is I64; reading it as float32 needs F32, F16, BF16 or F64");
    expect(() => file.int32('w')).toThrow("tensor 'w' is F32; reading it as int32 needs an integer or BOOL dtype");
    expect(() => file.int32('ids')).toThrow("tensor 'ids' (I64) element 1 = 1099511627776 does not fit in int32");
  });

  test('writer rejects a value count that does not match the shape', () => {
    expect(() => writeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: [1, 2] } })).toThrow(
      "writeSafetensors: tensor 'w' has shape [2, 3] (6 elements) but 2 values",
    );
  });
});

describe('checkpoint validation', () => {
  const expected: ExpectedTensor[] = [
    { name: 'wte.weight', shape: [10, 4] },
    { name: 'h.0.attn.c_attn.weight', shape: [4, 12] },
    { name: 'lm_head.weight', shape: [10, 4], optional: true },
  ];
  const stored = (entries: [string, number[]][]) => new Map(entries);

  test('prefixes, ignored buffers and optional tensors', () => {
    const found = stored([
      ['transformer.wte.weight', [10, 4]],
      ['transformer.h.0.attn.c_attn.weight', [4, 12]],
      ['transformer.h.0.attn.bias', [1, 1, 8, 8]],
      ['transformer.h.0.attn.masked_bias', []],
    ]);
    const matched = matchCheckpoint(found, expected, { prefixes: ['transformer.'], ignore: ['*.attn.bias', /\.attn\.masked_bias$/] });
    expect([...matched]).toEqual([
      ['wte.weight', 'transformer.wte.weight'],
      ['h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.weight'],
    ]);
  });

  test('one error lists every missing, mis-shaped and unexpected tensor with shapes', () => {
    const found = stored([
      ['wte.weight', [10, 5]],
      ['h.0.attn.bias', [1, 1, 8, 8]],
      ['extra.weight', [3]],
    ]);
    let message = '';
    try {
      matchCheckpoint(found, expected, { prefixes: ['transformer.'], ignore: ['*.attn.bias'] }, 'gpt2.safetensors');
    } catch (error) {
      expect(error).toBeInstanceOf(CheckpointError);
      message = (error as Error).message;
    }
    expect(message).toContain("gpt2.safetensors: 3 problems with the checkpoint's tensors:");
    expect(message).toContain("tensor 'wte.weight' has shape [10, 5], expected [10, 4]");
    expect(message).toContain("missing tensor 'h.0.attn.c_attn.weight', expected shape [4, 12] (also tried 'transformer.h.0.attn.c_attn.weight')");
    expect(message).toContain("unexpected tensor 'extra.weight' [3]");
    expect(message).not.toContain('lm_head');
    expect(message).not.toContain("'h.0.attn.bias'");
  });

  test('allowExtra; loadExpectedTensors reads the matched tensors from a safetensors file', () => {
    const file = parseSafetensors(
      writeSafetensors({
        'transformer.wte.weight': { dtype: 'F16', shape: [10, 4], data: new Float32Array(40).fill(0.5) },
        'transformer.h.0.attn.c_attn.weight': { dtype: 'F32', shape: [4, 12], data: new Float32Array(48).fill(2) },
        'transformer.unused': { dtype: 'F32', shape: [1], data: [0] },
      }),
      'mini.st',
    );
    expect(() => loadExpectedTensors(file, expected, { prefixes: ['transformer.'] })).toThrow(/mini\.st: 1 problem with .*unexpected tensor 'transformer\.unused' \[1\]/s);
    const tensors = loadExpectedTensors(file, expected, { prefixes: ['transformer.'], allowExtra: true });
    expect([...tensors.keys()]).toEqual(['wte.weight', 'h.0.attn.c_attn.weight']);
    expect(tensors.get('wte.weight')!.shape).toEqual([10, 4]);
    expect(tensors.get('wte.weight')!.data.every((v) => v === 0.5)).toBe(true);
    expect(tensors.get('h.0.attn.c_attn.weight')!.data.every((v) => v === 2)).toBe(true);
  });
});
