/** The golden outputs of tools/reference/imagegen_reference.py, one golden.json per fixture checkpoint. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** An RGB picture: base64 of height·width·3 bytes, row-major. */
export interface Picture {
  width: number;
  height: number;
  rgb: string;
}

export interface ImageGenGolden {
  prompt: string;
  /** [BOS] text bytes [IMAGE_START] */
  prompt_ids: number[];
  /** [T, V] logits of `ids` (the prompt ids and the first image tokens) */
  logits: { ids: number[]; logits: number[][] };
  /** the greedy grid: H·W vocabulary ids in raster order */
  tokens: number[];
  pixels: Picture;
  nearest4: Picture;
  bilinear4: Picture;
}

export const imagegenFixture = (name: string) => join(resolve(import.meta.dirname, '../fixtures/models'), name);

export function imagegenGolden(name: string): ImageGenGolden {
  return JSON.parse(readFileSync(join(imagegenFixture(name), 'golden.json'), 'utf8')) as ImageGenGolden;
}
