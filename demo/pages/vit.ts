/**
 * The Vision Transformer demo: pick a sample (Fashion-MNIST test images), drop an image file or
 * draw one, and see what the model sees: the image as the model's input, cut into its patch grid;
 * the five best labels; and where the [CLS] token looked, the row of the attention probabilities
 * that the classifier reads (`VisionTransformer.attentionMaps`), as a heat overlay on the patches,
 * for any layer and head or the mean over heads.
 *
 * `?model=/fixtures/vit-tiny-grey/` runs the tiny test model instead of the shipped
 * `models/fashion-vit`. The last result is readable as `window.tessera.vit` (test/demo-vit.test.ts).
 */
import { VisionTransformer, type ImageInput, type VitAttentionMaps } from '../../src/index.ts';
import { exposeForTests, getGpu, h, renderChrome, webGpuMissing } from '../lib/chrome.ts';
import { heatCss, heatGradient, modelMissing, modelUrl } from '../lib/heat.ts';

interface ScoreRow {
  index: number;
  label: string;
  score: number;
}

interface VitDemoState {
  state: 'loading' | 'ready' | 'running' | 'done' | 'error';
  error?: string;
  runs: number;
  model?: { url: string; labels: string[]; grid: [number, number]; patchSize: number; layers: number; heads: number };
  last?: {
    /** 'sample:<file>', 'file:<name>' or 'drawing'. */
    input: string;
    /** The drawing's RGBA pixels (base64), so a test can run the same image elsewhere. */
    rgba?: { width: number; height: number; base64: string };
    logits: number[];
    top: ScoreRow[];
    /** [layer][head][T]: the [CLS] row of each head's attention probabilities (token 0 is [CLS] itself). */
    cls: number[][][];
  };
}

const demo: VitDemoState = { state: 'loading', runs: 0 };
exposeForTests('vit', demo);

const VIEW_SIZE = 336;
const DRAW_SIZE = 112;
const SAMPLES = '/samples/';

let vit: VisionTransformer;
let maps: VitAttentionMaps | null = null;
let shownPixels: Float32Array | null = null;

const status = h('p', { class: 'status', id: 'vit-status', role: 'status' }, 'Loading the model…');
const view = h('canvas', { id: 'vit-view', width: VIEW_SIZE, height: VIEW_SIZE, 'aria-label': 'the model input with its patch grid and the [CLS] attention overlay' });
const layerSelect = h('select', { id: 'vit-layer' });
const headSelect = h('select', { id: 'vit-head' });
const showAttention = h('input', { type: 'checkbox', id: 'vit-show-attention', checked: true });
const showGrid = h('input', { type: 'checkbox', id: 'vit-show-grid', checked: true });
const topList = h('ol', { class: 'top-labels', id: 'vit-top' });
const attentionNote = h('p', { class: 'muted small', id: 'vit-attention-note' });

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function base64(bytes: Uint8Array | Uint8ClampedArray): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** The [CLS] token's weights over the patches (tokens 1…N) for a layer and a head, or the mean of the heads (head −1). */
function clsOverPatches(layer: number, head: number): Float32Array {
  const m = maps!;
  const T = m.tokens;
  const probs = m.layers[layer]!;
  const out = new Float32Array(T - 1);
  const heads = head < 0 ? Array.from({ length: m.heads }, (_, i) => i) : [head];
  for (const hd of heads) for (let j = 1; j < T; j++) out[j - 1]! += probs[hd * T * T + j]! / heads.length; // row 0 of head hd
  return out;
}

/** Draw the model's input (normalisation undone), then the attention overlay and the patch grid. */
function draw(): void {
  const ctx = view.getContext('2d')!;
  ctx.clearRect(0, 0, VIEW_SIZE, VIEW_SIZE);
  if (!shownPixels) return;
  const c = vit.config, pre = vit.preprocessor;
  const [H, W, C] = [c.imageHeight, c.imageWidth, c.numChannels];
  const image = new ImageData(W, H);
  for (let i = 0; i < H * W; i++) {
    const rgb = [0, 1, 2].map((k) => {
      const ch = Math.min(k, C - 1);
      let v = shownPixels![ch * H * W + i]!;
      if (pre.doNormalize) v = v * pre.std[ch]! + pre.mean[ch]!;
      if (!pre.doRescale) v /= 255;
      return Math.round(255 * Math.min(1, Math.max(0, v)));
    });
    image.data.set([...rgb, 255], 4 * i);
  }
  const small = new OffscreenCanvas(W, H);
  small.getContext('2d')!.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  const scale = Math.min(VIEW_SIZE / W, VIEW_SIZE / H);
  ctx.drawImage(small, 0, 0, W * scale, H * scale);

  const [rows, cols] = [H / c.patchSize, W / c.patchSize];
  const cell = c.patchSize * scale;
  if (maps && showAttention.checked) {
    const weights = clsOverPatches(Number(layerSelect.value), Number(headSelect.value));
    const max = Math.max(...weights);
    weights.forEach((w, p) => {
      const t = max > 0 ? w / max : 0;
      ctx.fillStyle = heatCss(t, 0.12 + 0.6 * t);
      ctx.fillRect((p % cols) * cell, Math.floor(p / cols) * cell, cell, cell);
    });
    const best = weights.indexOf(max);
    const headText = Number(headSelect.value) < 0 ? 'the mean of the heads' : `head ${Number(headSelect.value) + 1}`;
    attentionNote.textContent = `Layer ${Number(layerSelect.value) + 1}, ${headText}: [CLS] puts ${(100 * max).toFixed(1)} % of its attention on patch ` +
      `(row ${Math.floor(best / cols) + 1}, column ${(best % cols) + 1}), and ${(100 * (1 - weights.reduce((a, b) => a + b, 0))).toFixed(1)} % on itself.`;
  } else {
    attentionNote.textContent = '';
  }
  if (showGrid.checked) {
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.45)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let r = 1; r < rows; r++) {
      ctx.moveTo(0, r * cell + 0.5);
      ctx.lineTo(cols * cell, r * cell + 0.5);
    }
    for (let k = 1; k < cols; k++) {
      ctx.moveTo(k * cell + 0.5, 0);
      ctx.lineTo(k * cell + 0.5, rows * cell);
    }
    ctx.stroke();
  }
}

function showTop(top: ScoreRow[]): void {
  topList.replaceChildren(...top.map((t, rank) =>
    h('li', { class: rank === 0 ? 'best' : '' },
      h('span', { class: 'label' }, t.label),
      h('span', { class: 'bar-track' }, h('span', { class: 'bar', style: `width: ${(100 * t.score).toFixed(1)}%` })),
      h('span', { class: 'num' }, `${(100 * t.score).toFixed(1)} %`),
    ),
  ));
}

let queue: Promise<void> = Promise.resolve();

/** Classify one image and show it; runs one at a time, in the order asked. */
function classify(image: ImageInput, input: string, rgba?: ImageData): Promise<void> {
  queue = queue.then(async () => {
    demo.state = 'running';
    if (!input.startsWith('sample:')) document.querySelectorAll('#vit-samples .sample.selected').forEach((b) => b.classList.remove('selected'));
    status.className = 'status';
    status.textContent = 'Running the model…';
    try {
      const pixels = await vit.preprocess(image, input);
      const started = performance.now();
      maps = await vit.attentionMaps(pixels);
      const ms = performance.now() - started;
      shownPixels = pixels;
      const probs = softmax(maps.logits);
      const top = probs.map((score, index) => ({ index, label: vit.labels[index]!, score }))
        .sort((a, b) => b.score - a.score || a.index - b.index).slice(0, Math.min(5, probs.length));
      showTop(top);
      draw();
      const T = maps.tokens;
      demo.last = {
        input,
        rgba: rgba ? { width: rgba.width, height: rgba.height, base64: base64(rgba.data) } : undefined,
        logits: Array.from(maps.logits),
        top,
        cls: maps.layers.map((probs) => Array.from({ length: maps!.heads }, (_, hd) => Array.from(probs.subarray(hd * T * T, hd * T * T + T)))),
      };
      demo.state = 'done';
      status.textContent = `${top[0]!.label} (${(100 * top[0]!.score).toFixed(1)} %), in ${ms.toFixed(0)} ms for the ${vit.config.numLayers} layers and their attention maps.`;
    } catch (err) {
      demo.state = 'error';
      demo.error = err instanceof Error ? err.message : String(err);
      status.className = 'status fail';
      status.textContent = demo.error;
    }
    demo.runs++;
  });
  return queue;
}

function samplesPanel(): HTMLElement {
  const gallery = h('div', { class: 'sample-grid', id: 'vit-samples' }, h('span', { class: 'muted small' }, 'Loading the samples…'));
  void fetch(`${SAMPLES}index.json`).then(async (response) => {
    if (!response.ok) throw new Error(`${SAMPLES}index.json: HTTP ${response.status}`);
    const samples = (await response.json()) as { file: string; label: string }[];
    gallery.replaceChildren(...samples.map((s) => {
      const button = h('button', { type: 'button', class: 'sample', 'data-file': s.file, title: s.label },
        h('img', { src: SAMPLES + s.file, alt: s.label, width: 56, height: 56 }), h('span', {}, s.label));
      button.addEventListener('click', async () => {
        gallery.querySelectorAll('.sample').forEach((b) => b.classList.toggle('selected', b === button));
        const bytes = new Uint8Array(await (await fetch(SAMPLES + s.file)).arrayBuffer());
        await classify(bytes, `sample:${s.file}`);
      });
      return button;
    }));
  }).catch((err: Error) => gallery.replaceChildren(h('span', { class: 'fail small' }, `Could not load the samples: ${err.message}`)));
  return h('div', {}, h('h3', {}, 'Samples: Fashion-MNIST test images'), gallery);
}

function dropPanel(): HTMLElement {
  const input = h('input', { type: 'file', accept: 'image/png,image/jpeg', id: 'vit-file' });
  const zone = h('label', { class: 'drop-zone', id: 'vit-drop', for: 'vit-file' }, 'Drop a PNG or JPEG here, or click to choose one', input);
  const take = async (file: File | undefined) => {
    if (file) await classify(new Uint8Array(await file.arrayBuffer()), `file:${file.name}`);
  };
  input.addEventListener('change', () => void take(input.files?.[0]));
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    void take(e.dataTransfer?.files[0]);
  });
  return h('div', {}, h('h3', {}, 'Your image'), zone);
}

/** A canvas to draw on: light ink on black, like Fashion-MNIST; classified when a stroke ends. */
function drawPanel(): HTMLElement {
  const canvas = h('canvas', { id: 'vit-draw', width: DRAW_SIZE, height: DRAW_SIZE, 'aria-label': 'drawing canvas' });
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, DRAW_SIZE, DRAW_SIZE);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * DRAW_SIZE, ((e.clientY - r.top) / r.height) * DRAW_SIZE];
  };
  const stroke = (to: [number, number]) => {
    ctx.strokeStyle = '#e8e8e8';
    ctx.lineWidth = DRAW_SIZE / 9;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...(last ?? to));
    ctx.lineTo(...to);
    ctx.stroke();
    last = to;
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = null;
    stroke(at(e));
  });
  canvas.addEventListener('pointermove', (e) => last && stroke(at(e)));
  const finish = () => {
    if (!last) return;
    last = null;
    const pixels = ctx.getImageData(0, 0, DRAW_SIZE, DRAW_SIZE);
    void classify(pixels, 'drawing', pixels);
  };
  canvas.addEventListener('pointerup', finish);
  canvas.addEventListener('pointercancel', finish);
  const clearButton = h('button', { type: 'button', class: 'ghost', id: 'vit-clear' }, 'Clear');
  clearButton.addEventListener('click', clear);
  return h('div', {}, h('h3', {}, 'Draw one'), h('div', { class: 'draw-row' }, canvas, h('div', { class: 'muted small' },
    h('p', {}, 'Draw a piece of clothing in light strokes; the model classifies it when you lift the pen.'), clearButton)));
}

async function main(): Promise<void> {
  renderChrome('vit');
  const root = document.getElementById('vit')!;
  let gpu;
  try {
    gpu = await getGpu();
  } catch (err) {
    root.replaceChildren(webGpuMissing(err));
    demo.state = 'error';
    demo.error = err instanceof Error ? err.message : String(err);
    return;
  }
  const { url } = modelUrl('/models/fashion-vit/');
  root.replaceChildren(h('section', { class: 'card' }, status));
  try {
    vit = await VisionTransformer.fromUrl(gpu, url, { maxBatch: 1 });
  } catch (err) {
    demo.state = 'error';
    demo.error = modelMissing(url, err, 'vit-tiny-grey');
    status.className = 'status fail';
    status.textContent = demo.error;
    return;
  }
  const c = vit.config;
  const grid: [number, number] = [c.imageHeight / c.patchSize, c.imageWidth / c.patchSize];
  demo.model = { url, labels: [...vit.labels], grid, patchSize: c.patchSize, layers: c.numLayers, heads: c.numHeads };
  layerSelect.replaceChildren(...Array.from({ length: c.numLayers }, (_, i) => h('option', { value: i, selected: i === c.numLayers - 1 }, `layer ${i + 1}${i === c.numLayers - 1 ? ' (last)' : ''}`)));
  headSelect.replaceChildren(h('option', { value: -1, selected: true }, 'mean of heads'), ...Array.from({ length: c.numHeads }, (_, i) => h('option', { value: i }, `head ${i + 1}`)));
  for (const control of [layerSelect, headSelect, showAttention, showGrid]) control.addEventListener('change', draw);

  status.textContent = `Model ready: ${c.numLayers} layers, ${c.numHeads} heads, ${c.imageWidth}×${c.imageHeight} ${c.numChannels === 1 ? 'greyscale' : 'RGB'} input ` +
    `in ${grid[0] * grid[1]} patches of ${c.patchSize}×${c.patchSize}. Pick an image.`;
  root.replaceChildren(
    h('div', { class: 'vit-grid' },
      h('section', { class: 'card vit-inputs' }, h('h2', {}, 'Choose an image'), samplesPanel(), drawPanel(), dropPanel()),
      h('section', { class: 'card vit-result' },
        h('h2', {}, 'What the model sees'),
        status,
        h('div', { class: 'vit-view-row' },
          h('div', {},
            view,
            h('div', { class: 'heat-legend' }, h('span', {}, 'least'), h('span', { class: 'scale', style: `background: ${heatGradient()}` }), h('span', {}, 'most attention')),
          ),
          h('div', { class: 'vit-side' },
            h('h3', {}, 'Top 5'),
            topList,
            h('h3', {}, '[CLS] attention'),
            h('div', { class: 'fields' },
              h('label', {}, 'Layer', layerSelect),
              h('label', {}, 'Head', headSelect),
            ),
            h('label', { class: 'check' }, showAttention, 'attention overlay'),
            h('label', { class: 'check' }, showGrid, `patch grid (${grid[0]}×${grid[1]})`),
          ),
        ),
        attentionNote,
        h('p', { class: 'muted small' },
          'The image is cut into patches; each becomes a token, after a learned [CLS] token. The classifier reads only the [CLS] token at the end, ' +
          'so its attention row shows which patches it gathered information from.'),
      ),
    ),
  );
  demo.state = 'ready';
}

void main();
