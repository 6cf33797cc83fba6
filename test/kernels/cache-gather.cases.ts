import { cacheGather } from '../../src/ops/cache-gather.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

// [sequences, capacity, channels, rows copied, source index of each sequence]
const shapes: [number, number, number, number, number[]][] = [
  [1, 1, 1, 1, [0]],
  [4, 7, 17, 5, [2, 2, 0, 3]],  // one beam copied twice, one dropped; rows 5, 6 keep dst's values
  [3, 13, 64, 13, [2, 1, 0]],
  [6, 9, 67, 0, [5, 4, 3, 2, 1, 0]], // nothing written yet: dst is left as it was
];

export const cases: KernelCase[] = shapes.map(([n, capacity, channels, rows, index], i) => ({
  name: `cacheGather/N${n}xcap${capacity}xC${channels}/rows${rows}`,
  tolerance: { abs: 0, rel: 0 },
  async run(gpu) {
    const rng = new Rng(700 + i);
    const srcHost = rng.normal(n * capacity * channels);
    const dstHost = rng.normal(n * capacity * channels);
    const src = gpu.upload(srcHost, [n, capacity, channels]);
    const dst = gpu.upload(dstHost, [n, capacity, channels]);
    const idx = gpu.upload(Int32Array.from(index), [n], 'i32');
    const count = gpu.upload(new Uint32Array([rows]), [1], 'u32');
    cacheGather(gpu, src, dst, idx, count);
    const got = await dst.download();
    [src, dst, idx, count].forEach((t) => t.destroy());
    const want = Float64Array.from(dstHost);
    for (let b = 0; b < n; b++)
      for (let t = 0; t < rows; t++)
        for (let c = 0; c < channels; c++) want[(b * capacity + t) * channels + c] = srcHost[(index[b]! * capacity + t) * channels + c]!;
    return { got, want };
  },
}));
