/**
 * Position embeddings for another input size: Hugging Face's `interpolate_pos_encoding=True`
 * (transformers ≥ 4.42). The learned patch positions form a grid (H/p × W/p); that grid is resized
 * per channel with PyTorch's bicubic interpolation (`F.interpolate(mode='bicubic',
 * align_corners=False)`, a = −0.75, edges clamped), and the [CLS] position is kept as it is.
 */
import type { HostTensor } from '../checkpoint.ts';

const A = -0.75;
/** PyTorch's cubic convolution weights of the 4 taps around a point at fraction t past the second. */
function cubicWeights(t: number): [number, number, number, number] {
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| ≤ 1
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** For each output index: the 4 source indices (clamped to the edge) and their weights. */
function taps(inSize: number, outSize: number): { index: Int32Array; weight: Float64Array } {
  const scale = inSize / outSize;
  const index = new Int32Array(outSize * 4), weight = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const real = scale * (o + 0.5) - 0.5; // not clamped at 0 for cubic, as in PyTorch
    const first = Math.floor(real);
    const w = cubicWeights(real - first);
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(inSize - 1, Math.max(0, first - 1 + k));
      weight[o * 4 + k] = w[k]!;
    }
  }
  return { index, weight };
}

/** `positions` [1, 1 + gh·gw, D] (trained for a gh × gw grid) → [1, 1 + outH·outW, D]. */
export function interpolatePositions(positions: HostTensor, grid: [number, number], out: [number, number]): HostTensor {
  const [gh, gw] = grid, [oh, ow] = out;
  const D = positions.shape[positions.shape.length - 1]!;
  if (gh === oh && gw === ow) return positions;
  const src = positions.data;
  const data = new Float32Array((1 + oh * ow) * D);
  data.set(src.subarray(0, D)); // [CLS]
  const rows = taps(gh, oh), cols = taps(gw, ow);
  const at = (y: number, x: number, d: number) => src[(1 + y * gw + x) * D + d]!;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let d = 0; d < D; d++) {
        let sum = 0;
        for (let i = 0; i < 4; i++) {
          let row = 0; // interpolate along x in each of the 4 rows, then along y, as PyTorch does
          for (let j = 0; j < 4; j++) row += cols.weight[x * 4 + j]! * at(rows.index[y * 4 + i]!, cols.index[x * 4 + j]!, d);
          sum += rows.weight[y * 4 + i]! * row;
        }
        data[(1 + y * ow + x) * D + d] = sum;
      }
    }
  }
  return { shape: [1, 1 + oh * ow, D], data };
}
