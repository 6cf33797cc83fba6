import { embedding, embeddingChunkRows } from '../../src/ops/embedding.ts';
import { embeddingRef } from '../util/reference.ts';
import { Rng } from '../util/rng.ts';
import type { KernelCase } from './case.ts';

interface EmbeddingCase {
  ids: [number, number];      // [N, T]
  vocab: number;
  d: number;
  scale?: number;
  positionRows?: number;
  offset?: number;            // dynamic position offset (uploaded as the `position` input)
  chunks?: number;            // split the table into about this many bindings
  invalidIds?: boolean;       // include ids < 0 and ≥ V
}

const variants: EmbeddingCase[] = [
  { ids: [1, 1], vocab: 1, d: 1 },
  { ids: [2, 7], vocab: 50, d: 3, scale: 1.5 },
  { ids: [3, 5], vocab: 101, d: 17, positionRows: 8 },
  { ids: [1, 3], vocab: 97, d: 768, positionRows: 40, offset: 29 },
  { ids: [2, 13], vocab: 1000, d: 17, chunks: 5, invalidIds: true, positionRows: 13 },
  { ids: [1, 31], vocab: 517, d: 3, chunks: 3, scale: 2, positionRows: 20, offset: 7, invalidIds: true },
  { ids: [2, 9], vocab: 300, d: 1000, chunks: 4, invalidIds: true },
];

function caseName(c: EmbeddingCase): string {
  const flags = [c.scale && 'scale', c.positionRows && 'positions', c.offset && 'offset', c.chunks && 'split', c.invalidIds && 'invalid-ids'].filter(Boolean);
  return `embedding/${flags.join('+') || 'plain'}/${c.ids.join('x')}-${c.vocab}x${c.d}`;
}

export const cases: KernelCase[] = variants.map((c, i): KernelCase => ({
  name: caseName(c),
  tolerance: { abs: 1e-6, rel: 1e-6 },
  async run(gpu) {
    const rng = new Rng(500 + i);
    const [n, t] = c.ids;
    const idv = rng.int(n * t, 0, c.vocab);
    if (c.invalidIds) idv.set([-1, c.vocab, 2 ** 31 - 1, -(2 ** 31)]);
    const tablev = rng.normal(c.vocab * c.d);
    const posv = c.positionRows ? rng.normal(c.positionRows * c.d) : undefined;
    // A binding limit that cuts the table into `chunks` aligned pieces.
    const maxBindingBytes = c.chunks ? Math.ceil(c.vocab / c.chunks) * 4 * c.d : undefined;
    if (maxBindingBytes && embeddingChunkRows(c.d, maxBindingBytes, gpu.limits.minStorageBufferOffsetAlignment) >= c.vocab) {
      throw new Error(`${caseName(c)}: the lowered binding limit does not split the table`);
    }
    const ids = gpu.upload(idv, [n, t]), table = gpu.upload(tablev, [c.vocab, c.d]);
    const positions = posv ? gpu.upload(posv, [c.positionRows!, c.d]) : undefined;
    const position = c.offset !== undefined ? gpu.upload(new Uint32Array([c.offset])) : undefined;
    const out = embedding(gpu, ids, table, { scale: c.scale, positions, position, maxBindingBytes });
    const got = await out.download();
    [ids, table, out, ...(positions ? [positions] : []), ...(position ? [position] : [])].forEach((x) => x.destroy());
    return { got, want: embeddingRef(idv, t, tablev, c.d, { scale: c.scale, positions: posv, offset: c.offset }) };
  },
}));
