// Matrix-vector product whose input is computed on the fly, for decoding one token through a
// small Llama block with fewer dispatches (on small models each dispatch costs more than its work):
//   RMSNORM: out[n] = Σ_k (a[k] · r · gain[k]) · b[n, k] (+ residual[n]),  r = 1/√(mean(a²) + eps)
//   SWIGLU:  out[n] = Σ_k (silu(a[k]) · a[K + k]) · b[n, k] (+ residual[n]),  a = gate | up
//   neither: out[n] = Σ_k a[k] · b[n, k] (+ residual[n])
// so the RMSNorm before a projection, or the SwiGLU gate before the down projection, needs no
// dispatch (and no intermediate) of its own.
//
// b is stored [N, K] (nn.Linear's layout). Each invocation owns 4 output columns and walks all of
// K for them, computing the input element by element (and, with RMSNORM, Σ a² first): nothing is
// shared, so there is no barrier, which matters on CPU implementations such as lavapipe, where a
// barrier switches every invocation of the workgroup. Meant for small K (the model code uses it
// up to K = 1024; larger layers are bandwidth-bound and take the coalesced matvec kernel).

struct Params {
  N: u32,
  K: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if ${RMSNORM}
@group(0) @binding(4) var<storage, read> gain: array<f32>;
#endif
#if ${RESIDUAL}
@group(0) @binding(${RESIDUAL_BINDING}) var<storage, read> residual: array<f32>;
#endif

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = 4u * gid.x;
  if (n >= params.N) { return; }
#if ${RMSNORM}
  var sum_sq = 0.0;
  for (var k = 0u; k < params.K; k++) { sum_sq += a[k] * a[k]; }
  let inv_rms = inverseSqrt(sum_sq / f32(params.K) + params.eps);
#endif
  var rows: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) { rows[j] = min(n + j, params.N - 1u) * params.K; }
  var sum = vec4f(0.0);
  for (var k = 0u; k < params.K; k++) {
#if ${RMSNORM}
    let x = a[k] * inv_rms * gain[k];
#elif ${SWIGLU}
    let gate = a[k];
    let x = gate / (1.0 + exp(-gate)) * a[params.K + k];
#else
    let x = a[k];
#endif
    sum += x * vec4f(b[rows[0] + k], b[rows[1] + k], b[rows[2] + k], b[rows[3] + k]);
  }
  for (var j = 0u; j < 4u && n + j < params.N; j++) {
#if ${RESIDUAL}
    out[n + j] = sum[j] + residual[n + j];
#else
    out[n + j] = sum[j];
#endif
  }
}
