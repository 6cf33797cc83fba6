// What every benchmark shares: medians, wall and process-CPU timing of an async run, and seeded
// random weights fast enough for 100M-parameter models.

/** Wall-clock and process CPU milliseconds (lavapipe's threads run in this process, so CPU time
 *  counts the "GPU" work too; on a shared machine it moves less than wall time). */
export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` once to warm up (unless told not to), then `runs` times; the median wall and CPU times. */
export async function measure(runs: number, fn: () => Promise<unknown>, warmUp = true): Promise<Timing> {
  if (warmUp) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

/** Seeded uniform values in [-scale, scale] (xorshift32: 100M floats in well under a second). */
export function randomUniform(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}
