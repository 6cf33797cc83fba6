// erf(x) for f32, faithfully rounded (max error about 1 ulp, so ≤ ~1e-7 absolute).
//
// WGSL has no erf. This is Norbert Juffa's erff (https://stackoverflow.com/a/35148199, also
// used by MLX and PyTorch's Metal backend): a minimax polynomial in x² for |x| ≤ 0.9277,
// and 1 − exp(p(|x|)) beyond, where erf is within a few ulp of ±1.
//
// A snippet, not a kernel: lib/activation.wgsl includes it for GELU_ERF.

fn erf(x: f32) -> f32 {
  let t = abs(x);
  let s = x * x;
  if (t > 0.927734375) {
    var r = fma(-1.72853470e-5, t, 3.83197126e-4);
    let u = fma(-3.88396438e-3, t, 2.42546219e-2);
    r = fma(r, s, u);
    r = fma(r, t, -1.06777877e-1);
    r = fma(r, t, -6.34846687e-1);
    r = fma(r, t, -1.28717512e-1);
    r = fma(r, t, -t);
    return sign(x) * (1.0 - exp(r));
  }
  var r = -5.96761703e-4;
  r = fma(r, s, 4.99119423e-3);
  r = fma(r, s, -2.67681349e-2);
  r = fma(r, s, 1.12819925e-1);
  r = fma(r, s, -3.76125336e-1);
  r = fma(r, s, 1.28379166e-1);
  return fma(r, x, x);
}
