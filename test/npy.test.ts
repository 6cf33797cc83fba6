import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeNpy, encodeNpy, NpyError } from '../src/runtime/npy.ts';

describe('npy', () => {
  test.each([[[3, 5]], [[7]], [[2, 3, 4]], [[1, 1]], [[0, 4]]])('round trip of shape %j, data 64-byte aligned', (shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, (_, i) => i * 0.5 - 3);
    const bytes = encodeNpy(data, shape);
    const headerLength = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes[10 + headerLength - 1]).toBe(0x0a); // the header ends with '\n'
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual(shape);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  test('the header is the dict numpy writes', () => {
    const bytes = encodeNpy(new Float32Array(6), [2, 3]);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + (bytes[8]! | (bytes[9]! << 8))));
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    expect(new TextDecoder().decode(encodeNpy(new Float32Array(2), [2]).subarray(10, 70))).toContain("'shape': (2,), }");
  });

  test('errors name the problem', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(new NpyError('npy: shape [2, 3] holds 6 elements but the data has 5'));
    expect(() => decodeNpy(new Uint8Array(16))).toThrow(/bad magic/);
    const f8 = encodeNpy(new Float32Array(2), [2]);
    f8.set(new TextEncoder().encode("'<f8'"), 10 + 9);
    expect(() => decodeNpy(f8)).toThrow(/only '<f4'/);
    const four = encodeNpy(new Float32Array(4), [4]);
    expect(() => decodeNpy(four.subarray(0, four.length - 10))).toThrow('npy: shape (4,) needs 16 data bytes, the file has 6');
    expect(() => decodeNpy(four.subarray(0, 40))).toThrow(/truncated header/);
  });

  const python = '/usr/bin/python3';
  const hasNumpy = existsSync(python) && (() => {
    try {
      execFileSync(python, ['-c', 'import numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  test.skipIf(!hasNumpy)('numpy reads what we write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-npy-'));
    try {
      const path = join(dir, 'x.npy');
      writeFileSync(path, encodeNpy(Float32Array.from([1.5, -2, 3.25, 0, 1e-8, 7]), [3, 2]));
      const out = execFileSync(python, ['-c', `import numpy as np; a = np.load(${JSON.stringify(path)}); print(a.dtype, a.shape, a.tolist())`], { encoding: 'utf8' });
      expect(out.trim()).toBe('float32 (3, 2) [[1.5, -2.0], [3.25, 0.0], [9.99999993922529e-09, 7.0]]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
