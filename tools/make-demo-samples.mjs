// The sample images of the ViT demo (demo/vit.html): the first Fashion-MNIST *test* image of each
// class, as 28×28 greyscale PNGs in demo/samples/, with demo/samples/index.json listing them.
// Test images, so the shipped classifier (trained on the training set) has not seen them.
//
//   node tools/make-demo-samples.mjs [DATA_DIR]     # DATA_DIR default ../shared/data (or $TESSERA_DATA)
//
// Fashion-MNIST's IDX files: a big-endian header (magic, count, rows, columns), then one byte per
// pixel (0 = background, 255 = ink), images one after another; labels one byte each.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = resolve(process.argv[2] ?? process.env.TESSERA_DATA ?? join(ROOT, '..', 'shared', 'data'));
const OUT = join(ROOT, 'demo', 'samples');
const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function idx(file, magic) {
  const path = join(DATA, 'fashion-mnist', file);
  let bytes;
  try {
    bytes = gunzipSync(readFileSync(path));
  } catch (err) {
    throw new Error(`${path}: cannot read Fashion-MNIST (${err.message}); pass the data folder as the first argument`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${path}: magic ${view.getUint32(0)}, expected ${magic}`);
  return { view, bytes };
}

const images = idx('t10k-images-idx3-ubyte.gz', 2051);
const labels = idx('t10k-labels-idx1-ubyte.gz', 2049);
const count = images.view.getUint32(4), rows = images.view.getUint32(8), cols = images.view.getUint32(12);
mkdirSync(OUT, { recursive: true });
const samples = [];
for (let label = 0; label < LABELS.length; label++) {
  let i = 0;
  while (i < count && labels.bytes[8 + i] !== label) i++;
  if (i === count) throw new Error(`no test image of class ${label}`);
  const png = new PNG({ width: cols, height: rows, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(images.bytes.subarray(16 + i * rows * cols, 16 + (i + 1) * rows * cols));
  const file = `${label}-${LABELS[label].toLowerCase().replace(/[^a-z]+/g, '-')}.png`;
  writeFileSync(join(OUT, file), PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  samples.push({ file, label: LABELS[label], testIndex: i });
}
writeFileSync(join(OUT, 'index.json'), JSON.stringify(samples, null, 2) + '\n');
console.log(`wrote ${samples.length} samples to ${OUT}: ${samples.map((s) => `${s.label} (#${s.testIndex})`).join(', ')}`);
