import activation from '../../shaders/lib/activation.wgsl';
import advance from '../../shaders/lib/advance.wgsl';
import erf from '../../shaders/lib/erf.wgsl';
import sincos from '../../shaders/lib/sincos.wgsl';

/**
 * The shared WGSL snippets of shaders/lib/, by the name a kernel includes them with
 * (`#include "lib/sincos.wgsl"`). A snippet defines functions and constants, never bindings or
 * an entry point; it may include other snippets and use `${NAME}` holes and `#if` blocks, which
 * `specialize` fills in with the including kernel's defines.
 */
export const WGSL_LIBRARY: Readonly<Record<string, string>> = {
  'lib/activation.wgsl': activation,
  'lib/advance.wgsl': advance,
  'lib/erf.wgsl': erf,
  'lib/sincos.wgsl': sincos,
};
