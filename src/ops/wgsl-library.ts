import activation from '../../shaders/lib/activation.wgsl';
import advance from '../../shaders/lib/advance.wgsl';
import attentionHeads from '../../shaders/lib/attention_heads.wgsl';
import decodeQkv from '../../shaders/lib/decode_qkv.wgsl';
import epilogue from '../../shaders/lib/epilogue.wgsl';
import erf from '../../shaders/lib/erf.wgsl';
import matmulLoads from '../../shaders/lib/matmul_loads.wgsl';
import normRows from '../../shaders/lib/norm_rows.wgsl';
import onlineSoftmax from '../../shaders/lib/online_softmax.wgsl';
import rope from '../../shaders/lib/rope.wgsl';
import rowBest from '../../shaders/lib/row_best.wgsl';
import rowReduce from '../../shaders/lib/row_reduce.wgsl';
import rowSum from '../../shaders/lib/row_sum.wgsl';
import sincos from '../../shaders/lib/sincos.wgsl';

/**
 * The shared WGSL snippets of shaders/lib/, by the name a kernel includes them with
 * (`#include "lib/sincos.wgsl"`). A snippet defines functions, types, constants and workgroup
 * scratch, never bindings or an entry point: it uses the bindings the including kernel declares,
 * under the names its header lists. It may include other snippets and use `${NAME}` holes and
 * `#if` blocks, which `specialize` fills in with the including kernel's defines. One that enables
 * an extension (lib/row_reduce.wgsl) is included before any declaration.
 */
export const WGSL_LIBRARY: Readonly<Record<string, string>> = {
  'lib/activation.wgsl': activation,
  'lib/advance.wgsl': advance,
  'lib/attention_heads.wgsl': attentionHeads,
  'lib/decode_qkv.wgsl': decodeQkv,
  'lib/epilogue.wgsl': epilogue,
  'lib/erf.wgsl': erf,
  'lib/matmul_loads.wgsl': matmulLoads,
  'lib/norm_rows.wgsl': normRows,
  'lib/online_softmax.wgsl': onlineSoftmax,
  'lib/rope.wgsl': rope,
  'lib/row_best.wgsl': rowBest,
  'lib/row_reduce.wgsl': rowReduce,
  'lib/row_sum.wgsl': rowSum,
  'lib/sincos.wgsl': sincos,
};
