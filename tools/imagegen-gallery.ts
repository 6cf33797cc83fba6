// The README's gallery of the shipped image generator: one row per Fashion-MNIST class, one column per
// seed, each image drawn by Tessera (ImageGenerator.imagine, the API behind `tessera imagine`) from
// the class's prompt at temperature 1, then the whole grid written as one PNG.
//
//   node --import ./bench/register.mjs tools/imagegen-gallery.ts [--seeds 6] [--scale 2] [--out docs/img/imagegen-gallery.png]
//
// Rows, top to bottom, are the prompts of IMAGEGEN_PROMPTS (src/cli/imagegen-eval.ts): T-shirt,
// trousers, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot. Seeds are 0 .. N−1.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { createDevice, ImageGenerator } from '../src/index.ts';
import { IMAGEGEN_PROMPTS } from '../src/cli/imagegen-eval.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '6' },
    scale: { type: 'string', default: '2' },
    model: { type: 'string', default: join(ROOT, 'models', 'fashion-imagegen') },
    out: { type: 'string', default: join(ROOT, 'docs', 'img', 'imagegen-gallery.png') },
  },
});
const seeds = Number(values.seeds);
const scale = Number(values.scale);
if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds needs a positive integer, got ${values.seeds}`);
if (!Number.isInteger(scale) || scale < 1) throw new Error(`--scale needs a positive integer, got ${values.scale}`);

const GAP = 2; // pixels of mid-grey between images
const gpu = await createDevice();
try {
  const gen = await ImageGenerator.load(gpu, values.model!);
  try {
    const cell = gen.width * scale; // square: Fashion-MNIST is 28×28
    const png = new PNG({ width: seeds * (cell + GAP) + GAP, height: IMAGEGEN_PROMPTS.length * (cell + GAP) + GAP });
    png.data.fill(128);
    for (let row = 0; row < IMAGEGEN_PROMPTS.length; row++) {
      for (let seed = 0; seed < seeds; seed++) {
        const { image } = await gen.imagine(IMAGEGEN_PROMPTS[row]!, { temperature: 1, seed, scale });
        const x0 = GAP + seed * (cell + GAP);
        const y0 = GAP + row * (cell + GAP);
        for (let y = 0; y < image.height; y++) {
          png.data.set(image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4), ((y0 + y) * png.width + x0) * 4);
        }
        process.stderr.write(`\r${IMAGEGEN_PROMPTS[row]} seed ${seed}      `);
      }
    }
    mkdirSync(dirname(values.out!), { recursive: true });
    writeFileSync(values.out!, PNG.sync.write(png));
    process.stderr.write(`\nwrote ${values.out} (${png.width}×${png.height})\n`);
  } finally {
    gen.destroy();
  }
} finally {
  gpu.destroy();
}
