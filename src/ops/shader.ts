import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import type { Defines } from '../device/gpu.ts';
import { WGSL_LIBRARY } from './wgsl-library.ts';

/**
 * Specialise a WGSL source for one use: every `${NAME}` is replaced by `defines[NAME]`, and
 * `#if ${FLAG}` / `#elif` / `#else` / `#endif` blocks are kept or dropped by wgsl-preprocessor.
 * Then each `#include "lib/name.wgsl"` line that survived is replaced by that snippet of
 * shaders/lib/ (WGSL_LIBRARY), specialised with the same defines and pasted once per kernel
 * however often it is named. Shader files are therefore plain WGSL with holes, readable on
 * their own, and one file serves every tile size, dtype and epilogue.
 */
export function specialize(kernel: string, source: string, defines: Defines): string {
  return expand(kernel, source, defines, new Set());
}

function expand(kernel: string, source: string, defines: Defines, included: Set<string>): string {
  const parts = source.split(/\$\{(\w+)\}/);
  const strings: string[] = [];
  const values: (string | number | boolean)[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) strings.push(parts[i]!);
    else {
      const name = parts[i]!;
      if (!(name in defines)) throw new Error(`kernel '${kernel}': the shader uses \${${name}} but no value was given for it`);
      values.push(defines[name]!);
    }
  }
  const raw = Object.assign([...strings], { raw: strings }) as unknown as TemplateStringsArray;
  return wgsl(raw, ...values)
    .split('\n')
    .map((line) => {
      const name = INCLUDE.exec(line)?.[1];
      if (name === undefined) return line;
      const snippet = WGSL_LIBRARY[name];
      if (snippet === undefined) throw new Error(`kernel '${kernel}': #include "${name}": no such snippet in shaders/lib (known: ${Object.keys(WGSL_LIBRARY).join(', ')})`);
      if (included.has(name)) return '';
      included.add(name);
      return expand(kernel, snippet, defines, included);
    })
    .join('\n');
}

const INCLUDE = /^\s*#include\s+"([^"]+)"\s*$/;

/** Writes a uniform block of 4-byte scalars in WGSL struct order (padded to 16 bytes). */
export class Uniforms {
  private readonly values: { type: 'u32' | 'i32' | 'f32'; value: number }[] = [];

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`uniform u32 out of range: ${value}`);
    this.values.push({ type: 'u32', value });
    return this;
  }
  i32(value: number): this {
    this.values.push({ type: 'i32', value });
    return this;
  }
  f32(value: number): this {
    this.values.push({ type: 'f32', value });
    return this;
  }

  finish(): ArrayBuffer {
    const buffer = new ArrayBuffer(Math.max(16, Math.ceil((this.values.length * 4) / 16) * 16));
    const view = new DataView(buffer);
    this.values.forEach(({ type, value }, i) => {
      if (type === 'f32') view.setFloat32(i * 4, value, true);
      else if (type === 'i32') view.setInt32(i * 4, value, true);
      else view.setUint32(i * 4, value, true);
    });
    return buffer;
  }
}

/** Split a 1-D workgroup count over x and y so that neither exceeds the per-dimension limit. */
export function grid1d(workgroups: number, maxPerDimension = 65535): [number, number] {
  if (workgroups <= maxPerDimension) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDimension);
  return [Math.ceil(workgroups / y), y];
}
