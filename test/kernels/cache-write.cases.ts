import { cacheWrite } from '../../src/ops/cache-write.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [batch, tokens, channels, capacity, position]
const shapes: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 0],
  [2, 3, 17, 11, 4],
  [3, 5, 64, 7, 4], // rows 7.. fall outside the capacity and are dropped
  [1, 13, 67, 13, 0],
];

export const cases: KernelCase[] = shapes.map(([batch, tokens, channels, capacity, position], i) => ({
  name: `cacheWrite/B${batch}xT${tokens}xC${channels}/cap${capacity}@${position}`,
  tolerance: { abs: 0, rel: 0 },
  async run(gpu) {
    const rng = new Rng(300 + i);
    const srcHost = rng.normal(batch * tokens * channels);
    const cacheHost = rng.normal(batch * capacity * channels);
    const src = gpu.upload(srcHost, [batch, tokens, channels]);
    const cache = gpu.upload(cacheHost, [batch, capacity, channels]);
    const pos = gpu.upload(new Uint32Array([position]), [1]);
    cacheWrite(gpu, src, cache, pos);
    const got = await cache.download();
    [src, cache, pos].forEach((t) => t.destroy());
    const want = Float64Array.from(cacheHost);
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < tokens && position + t < capacity; t++)
        for (let c = 0; c < channels; c++) want[(b * capacity + position + t) * channels + c] = srcHost[(b * tokens + t) * channels + c]!;
    return { got, want };
  },
}));
