// The epilogue of matmul.wgsl and matvec.wgsl: store_row finishes 4 adjacent outputs of one row,
//   out[z, m, n .. n+3] = act(acc (+ out, with ACCUMULATE) + bias[n ..]) + residual[z, m, n ..],
// bias, activation and residual only with EPILOGUE (the last chunk of a chunked b). The
// including kernel binds `params` (lib/matmul_loads.wgsl), `out`, and `bias` / `residual` with
// BIAS / RESIDUAL.

// activation(x), chosen by the defines of src/ops/activation.ts.
#include "lib/activation.wgsl"

// Add earlier chunks' partial sums, then the epilogue; columns past the chunk and rows past M
// are not stored.
fn store_row(z: u32, m: u32, n: u32, acc: vec4f) {
  if (m >= params.M) { return; }
  let n_end = params.n_begin + params.n_count;
  for (var j = 0u; j < 4u; j++) {
    if (n + j >= n_end) { return; }
    let o = (z * params.M + m) * params.N + n + j;
    var v = acc[j];
#if ${ACCUMULATE}
    v += out[o];
#endif
#if ${EPILOGUE}
#if ${BIAS}
    v += bias[n + j];
#endif
    v = activation(v);
#if ${RESIDUAL}
    v += residual[o];
#endif
#endif
    out[o] = v;
  }
}
