// The variance of one 768-wide row, computed four ways in float32 (every operation rounded with
// Math.fround, sums taken left to right), against the float64 answer: docs/layernorm.md quotes
// the output.  Run: node docs/layernorm-variance.mjs
const f = Math.fround;

/** A seeded normal row (mulberry32 + Box–Muller), stored as float32 like a tensor. */
function row(length, mean, std, seed) {
  let s = seed >>> 0;
  const next = () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length }, () => mean + std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
}

/** float64, two passes: the reference. */
function exact(x) {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let squares = 0;
  for (const v of x) squares += (v - mean) ** 2;
  return squares / x.length;
}

/** One pass, E[x²] − E[x]²: both terms are large and nearly equal, and their difference cancels. */
function onePass(x) {
  let sum = f(0), sumSquares = f(0);
  for (const v of x) {
    sum = f(sum + v);
    sumSquares = f(sumSquares + f(v * v));
  }
  const mean = f(sum / x.length);
  return f(f(sumSquares / x.length) - f(mean * mean));
}

/** Two passes: the mean first, then the mean of the squared deviations. */
function twoPass(x) {
  let sum = f(0);
  for (const v of x) sum = f(sum + v);
  const mean = f(sum / x.length);
  let squares = f(0);
  for (const v of x) squares = f(squares + f(f(v - mean) * f(v - mean)));
  return f(squares / x.length);
}

/** Welford: one pass that updates the mean and the sum of squared deviations together. */
function welford(x) {
  let mean = f(0), m2 = f(0), n = 0;
  for (const v of x) {
    n++;
    const delta = f(v - mean);
    mean = f(mean + f(delta / n));
    m2 = f(m2 + f(delta * f(v - mean)));
  }
  return f(m2 / n);
}

/** Tessera's kernel: subtract the row's first value, then two passes over the shifted values. */
function shiftedTwoPass(x) {
  const shift = x[0];
  const h = Float32Array.from(x, (v) => f(v - shift));
  return twoPass(h);
}

const relative = (v, want) => ((v - want) / want).toExponential(1);
console.log('| row (768 values) | exact variance | one pass E[x²]−E[x]² | two passes | Welford | shifted two passes (Tessera) |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [mean, std] of [[0, 1], [100, 1], [100, 0.01], [10000, 1]]) {
  const x = row(768, mean, std, 7);
  const want = exact(x);
  const one = onePass(x);
  console.log(`| mean ${mean}, std ${std} | ${want.toExponential(3)} | ${one.toExponential(2)} (${relative(one, want)}) | ${relative(twoPass(x), want)} | ${relative(welford(x), want)} | ${relative(shiftedTwoPass(x), want)} |`);
}
