// docs/models.md's confusion matrix of the shipped image classifier: how often fashion-vit takes each
// Fashion-MNIST class for each other one, over the 10,000 test images, as Tessera's own evaluation
// counts them (the fashion-vit entry of `tessera eval`, src/cli/eval.ts), drawn as one PNG.
//
//   node --import ./bench/register.mjs tools/vit-confusion.ts [--model DIR] [--limit N] [--save report.json] [--out PNG]
//   node --import ./bench/register.mjs tools/vit-confusion.ts --from report.json [--model DIR] [--out PNG]
//
// Without --from it runs the evaluation (a few minutes on a CPU; --save keeps the report). --from
// redraws from a saved report: the output of `tessera eval --model fashion-vit --json`, or --save's.
// Rows are the true classes, columns the predicted ones, named by the model's config.json id2label.
// Each cell shows its count, shaded white → dark blue by its share of the row (the true class).
// Text is drawn with the 5×7 bitmap font below, scaled ×2: there is no font library.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { createDevice } from '../src/index.ts';
import { EVALUATIONS, type EvalReport } from '../src/cli/eval.ts';
import { vitConfig } from '../src/models/vit/config.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    from: { type: 'string' },
    model: { type: 'string', default: join(ROOT, 'models', 'fashion-vit') },
    data: { type: 'string', default: process.env.TESSERA_DATA ?? join(ROOT, '..', 'shared', 'data') },
    limit: { type: 'string' },
    save: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'docs', 'img', 'fashion-vit-confusion.png') },
  },
});

/** The report to draw: read from --from, or computed now by the evaluation behind `tessera eval`. */
async function loadReport(): Promise<EvalReport> {
  if (values.from !== undefined) {
    // `tessera eval --json` prints {name: report}; the classifier's is the one with a confusion matrix
    const reports = Object.values(JSON.parse(readFileSync(values.from, 'utf8')) as Record<string, EvalReport>);
    const report = reports.find((r) => Array.isArray(r?.metrics?.confusion));
    if (!report) throw new Error(`${values.from}: no report with metrics.confusion (expected the output of 'tessera eval --model fashion-vit --json')`);
    return report;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new Error(`--limit needs a positive integer, got ${values.limit}`);
  const gpu = await createDevice();
  try {
    const report = await EVALUATIONS['fashion-vit']!.run(gpu, resolve(values.model!), resolve(values.data!), limit);
    process.stderr.write(`\n${report.model}: ${report.summary}\n`);
    if (values.save !== undefined) writeFileSync(values.save, JSON.stringify({ [report.model]: report }, null, 2) + '\n');
    return report;
  } finally {
    gpu.destroy();
  }
}

// ---- a 5×7 bitmap font: 7 rows per glyph, top to bottom, each two hex digits (0x10 = left column) ----
// Lowercase letters are 5 rows high (rows 2–6); the ones with a descender (DESCENDERS) are drawn two
// rows lower, so their 7 rows are the 5 of the letter and 2 below the line.

const FONT: Record<string, string> = {
  ' ': '00000000000000', '/': '00010204081000', '%': '18190204081303', '.': '00000000000c0c', '-': '0000001f000000',
  ':': '000c0c000c0c00', '(': '02040808080402', ')': '08040202020408', ',': '000000000c0408',
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e', '4': '02060a121f0202',
  '5': '1f101e0101110e', '6': '0608101e11110e', '7': '1f010204080808', '8': '0e11110e11110e', '9': '0e11110f01020c',
  A: '0e1111111f1111', B: '1e11111e11111e', C: '0e11101010110e', D: '1c12111111121c', E: '1f10101e10101f',
  F: '1f10101e101010', G: '0e11101711110f', H: '1111111f111111', I: '0e04040404040e', J: '0702020202120c',
  K: '11121418141211', L: '1010101010101f', M: '111b1515111111', N: '11111915131111', O: '0e11111111110e',
  P: '1e11111e101010', Q: '0e11111115120d', R: '1e11111e141211', S: '0f10100e01011e', T: '1f040404040404',
  U: '1111111111110e', V: '11111111110a04', W: '1111111515150a', X: '11110a040a1111', Y: '1111110a040404',
  Z: '1f01020408101f',
  a: '00000e010f110f', b: '1010161911111e', c: '00000e1010110e', d: '01010d1311110f', e: '00000e111f100e',
  f: '0609081c080808', g: '0f1111110f010e', h: '10101619111111', i: '04000c0404040e', j: '02000602020212',
  k: '10101214181412', l: '0c04040404040e', m: '00001a15151111', n: '00001619111111', o: '00000e1111110e',
  p: '1e1111111e1010', q: '0f1111110f0101', r: '00001619101010', s: '00000e100e011e', t: '08081c08080906',
  u: '0000111111130d', v: '00001111110a04', w: '0000111115150a', x: '0000110a040a11', y: '111111110f010e',
  z: '00001f0204081f',
};

const DESCENDERS = 'gjpqy';
const SCALE = 2; // screen pixels per font pixel
const ADVANCE = 6 * SCALE; // a glyph and one blank column
const CAP = 7 * SCALE; // the height of capitals and digits, what text is centred by
const LINE = 9 * SCALE; // the height of a line of text, descenders included

type Rgb = [number, number, number];
const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [30, 30, 30];
const GREY: Rgb = [110, 110, 110];
const DARK_BLUE: Rgb = [8, 48, 107];

function textWidth(text: string): number {
  return text.length * ADVANCE - SCALE;
}

function fillRect(png: PNG, x: number, y: number, w: number, h: number, [r, g, b]: Rgb): void {
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) png.data.set([r, g, b, 255], (yy * png.width + xx) * 4);
  }
}

/**
 * Write `text` with its top-left corner at (x, y); `upward` turns it a quarter turn anticlockwise,
 * to read bottom to top from (x, y) = its bottom-left corner (the column labels).
 */
function drawText(png: PNG, text: string, x: number, y: number, color: Rgb, upward = false): void {
  x = Math.round(x);
  y = Math.round(y);
  [...text].forEach((ch, i) => {
    const glyph = FONT[ch];
    if (glyph === undefined) throw new Error(`the bitmap font has no glyph for ${JSON.stringify(ch)} (in ${JSON.stringify(text)})`);
    for (let row = 0; row < 7; row++) {
      const bits = parseInt(glyph.slice(2 * row, 2 * row + 2), 16);
      for (let col = 0; col < 5; col++) {
        if (!(bits & (0x10 >> col))) continue;
        const along = i * ADVANCE + col * SCALE; // position along the line of text
        const across = (DESCENDERS.includes(ch) ? row + 2 : row) * SCALE; // and down from its top
        if (upward) fillRect(png, x + across, y - along - SCALE + 1, SCALE, SCALE, color);
        else fillRect(png, x + along, y + across, SCALE, SCALE, color);
      }
    }
  });
}

// ---- the figure ----------------------------------------------------------------------------------

const CELL = 60; // pixels per matrix cell, a four-digit count fits
const MARGIN = 20;
const GAP = 10; // between a label and what it labels

function drawConfusion(report: EvalReport, labels: string[]): PNG {
  const confusion = report.metrics.confusion as number[][];
  const L = labels.length;
  if (confusion.length !== L || confusion.some((row) => row.length !== L)) {
    throw new Error(`the report's confusion matrix is not ${L}×${L}, the model's class count (${values.model})`);
  }
  const { accuracy, correct, images } = report.metrics as Record<string, number>;
  const title = `${report.model}: top-1 accuracy ${(100 * accuracy!).toFixed(2)} % (${correct}/${images})`;
  const subtitle = `${images} Fashion-MNIST test images. Shade: share of true class`;
  const labelWidth = Math.max(...labels.map(textWidth));

  // left to right: "true", the row labels, the grid; top to bottom: titles, "predicted", column labels, grid
  const gridX = MARGIN + LINE + GAP + labelWidth + GAP;
  const gridY = MARGIN + 2 * LINE + 3 * GAP + LINE + GAP + labelWidth + GAP;
  const width = Math.max(gridX + L * CELL, MARGIN + textWidth(title), MARGIN + textWidth(subtitle)) + MARGIN;
  const png = new PNG({ width, height: gridY + L * CELL + MARGIN });
  fillRect(png, 0, 0, png.width, png.height, WHITE);

  drawText(png, title, MARGIN, MARGIN, INK);
  drawText(png, subtitle, MARGIN, MARGIN + LINE + GAP, GREY);
  const predicted = 'predicted';
  drawText(png, predicted, gridX + (L * CELL - textWidth(predicted)) / 2, MARGIN + 2 * LINE + 3 * GAP, INK);
  const truth = 'true';
  drawText(png, truth, MARGIN, gridY + (L * CELL + textWidth(truth)) / 2, INK, true);

  fillRect(png, gridX - 1, gridY - 1, L * CELL + 1, L * CELL + 1, [200, 200, 200]); // the grid lines
  for (let t = 0; t < L; t++) {
    const rowTotal = confusion[t]!.reduce((a, b) => a + b, 0);
    drawText(png, labels[t]!, gridX - GAP - textWidth(labels[t]!), gridY + t * CELL + (CELL - CAP) / 2, INK);
    drawText(png, labels[t]!, gridX + t * CELL + (CELL - CAP) / 2, gridY - GAP, INK, true);
    for (let p = 0; p < L; p++) {
      const count = confusion[t]![p]!;
      const share = rowTotal > 0 ? count / rowTotal : 0;
      const shade = WHITE.map((w, k) => Math.round(w + share * (DARK_BLUE[k]! - w))) as Rgb;
      const x = gridX + p * CELL, y = gridY + t * CELL;
      fillRect(png, x, y, CELL - 1, CELL - 1, shade);
      const text = String(count);
      drawText(png, text, x + (CELL - textWidth(text)) / 2, y + (CELL - CAP) / 2, share > 0.5 ? WHITE : INK);
    }
  }
  return png;
}

// the class names first, so a wrong --model fails before a long evaluation
const labels = vitConfig(JSON.parse(readFileSync(join(values.model!, 'config.json'), 'utf8')) as Record<string, unknown>).labels;
const report = await loadReport();
const png = drawConfusion(report, labels);
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, PNG.sync.write(png));
process.stderr.write(`wrote ${values.out} (${png.width}×${png.height})\n`);
