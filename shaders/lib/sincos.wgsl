// sincos(x) = (sin x, cos x) for f32, with an absolute error of about 1e-7 for |x| < 1e5.
//
// WGSL's built-in sin and cos only promise an absolute error of 2^-11 (≈ 5e-4) on [−π, π]
// and nothing outside it, and some implementations (SwiftShader in Chromium) are that coarse.
// Rotary embeddings take sin and cos of angles in the thousands, so this does it by hand:
//
// 1. Argument reduction (Cody–Waite): k = round(x · 2/π), r = x − k·π/2 ∈ [−π/4, π/4].
//    π/2 is split into three f32 parts, the first two with only 8 significant bits, so
//    k·PIO2_HI and k·PIO2_MID are exact for |k| < 2^16 (no fma needed) and the subtractions
//    lose nothing; the third part carries the rest of π/2 to about 2^-44.
// 2. Minimax polynomials for sin and cos on [−π/4, π/4] (Cephes sinf/cosf), about 1 ulp.
// 3. Quadrant k mod 4 picks and signs: (sin, cos)(x) = (s, c), (c, −s), (−s, −c), (−c, s).
//
// A snippet, not a kernel: a kernel that needs it writes `#include "lib/sincos.wgsl"`.

const TWO_OVER_PI = 0.63661977236758134;
const PIO2_HI = 1.5703125;                   // 0x1.92p+0
const PIO2_MID = 4.825592041015625e-4;       // 0x1.fap-12
const PIO2_LO = 1.2675908465098473e-6;       // π/2 − PIO2_HI − PIO2_MID, rounded to f32

fn sincos(x: f32) -> vec2<f32> {
  let k = round(x * TWO_OVER_PI);
  let r = ((x - k * PIO2_HI) - k * PIO2_MID) - k * PIO2_LO;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let quadrant = i32(k) & 3;  // two's complement: also k mod 4 for negative k
  var sc = vec2<f32>(s, c);
  if ((quadrant & 1) != 0) { sc = vec2<f32>(c, -s); }
  if ((quadrant & 2) != 0) { sc = -sc; }
  return sc;
}
