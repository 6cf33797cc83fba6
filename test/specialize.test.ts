import { describe, expect, it } from 'vitest';
import { specialize } from '../src/ops/shader.ts';
import { WGSL_LIBRARY } from '../src/ops/wgsl-library.ts';

describe('specialize', () => {
  it('fills holes and keeps the #if branch the defines choose', () => {
    const out = specialize('k', 'const N = ${N}u;\n#if ${WIDE}\nconst W = 4u;\n#else\nconst W = 1u;\n#endif\n', { N: 7, WIDE: false });
    expect(out).toContain('const N = 7u;');
    expect(out).toContain('const W = 1u;');
    expect(out).not.toContain('const W = 4u;');
  });

  it('pastes an included snippet once, specialised with the same defines, and only from kept branches', () => {
    const source = '#include "lib/activation.wgsl"\n#include "lib/activation.wgsl"\n#if ${ROPE}\n#include "lib/sincos.wgsl"\n#endif\n';
    const defines = { ROPE: false, GELU_TANH: false, GELU_ERF: true, SILU: false, RELU: false };
    const out = specialize('k', source, defines);
    expect(out.match(/fn activation\(/g)).toHaveLength(1);
    expect(out).toContain('fn erf('); // activation.wgsl includes erf.wgsl for GELU_ERF
    expect(out).not.toContain('fn sincos(');
    expect(out).not.toContain('#include');
    expect(specialize('k', source, { ...defines, ROPE: true, GELU_ERF: false })).toContain('fn sincos(');
  });

  it('names the kernel and the snippet when a snippet or a define is missing', () => {
    expect(() => specialize('my_kernel', '#include "lib/nope.wgsl"\n', {})).toThrow(/my_kernel.*lib\/nope\.wgsl.*no such snippet/);
    expect(() => specialize('my_kernel', 'x ${MISSING}', {})).toThrow(/my_kernel.*MISSING/);
  });

  it('keeps snippets to functions, types and constants: no bindings, no entry points', () => {
    for (const [name, snippet] of Object.entries(WGSL_LIBRARY)) {
      expect(snippet, name).not.toMatch(/@binding|@compute|@vertex|@fragment/);
    }
  });

  it('pastes a snippet where it is first included, so one that enables subgroups can come before any declaration', () => {
    const defines = { LANES: 32, ROWS: 8, SUBGROUPS: true, ONE_SUBGROUP: true };
    const out = specialize('k', '#include "lib/row_sum.wgsl"\nvar<private> after: f32;\n', defines);
    expect(out.indexOf('enable subgroups;')).toBeGreaterThanOrEqual(0);
    expect(out.indexOf('enable subgroups;')).toBeLessThan(out.indexOf('alias Partial = f32'));
    expect(out.indexOf('alias Partial = f32')).toBeLessThan(out.indexOf('var<private> after'));
  });
});
