import activation from '../../shaders/lib/activation.wgsl';
import advance from '../../shaders/lib/advance.wgsl';
import epilogue from '../../shaders/lib/epilogue.wgsl';
import erf from '../../shaders/lib/erf.wgsl';
import matmulLoads from '../../shaders/lib/matmul_loads.wgsl';
import rowBest from '../../shaders/lib/row_best.wgsl';
import rowReduce from '../../shaders/lib/row_reduce.wgsl';
import rowSum from '../../shaders/lib/row_sum.wgsl';
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
  'lib/epilogue.wgsl': epilogue,
  'lib/erf.wgsl': erf,
  'lib/matmul_loads.wgsl': matmulLoads,
  'lib/row_best.wgsl': rowBest,
  'lib/row_reduce.wgsl': rowReduce,
  'lib/row_sum.wgsl': rowSum,
  'lib/sincos.wgsl': sincos,
};
