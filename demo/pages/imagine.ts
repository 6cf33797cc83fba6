/**
 * The text-to-image page: a prompt, then `ImageGenerator.generateTokens` writes the H×W grid of
 * image tokens in raster order. Each token that arrives (`onToken`) is written into the id grid
 * and the partial grid is rendered by the same kernels as the final picture (cells not written yet
 * are transparent), so the picture paints itself; at the end the whole grid is detokenized and
 * up-sampled ×4 (nearest or bilinear) on the GPU.
 *
 * The model folder is `?model=` (e.g. `/fixtures/imagegen-tiny/`), by default the shipped
 * `/models/fashion-imagegen/`. The page's state is `window.tessera.imagine` (test/demo-imagine.test.ts
 * compares its tokens and pixels with Node's).
 */
import { ImageGenerator, type ImageTokenOptions, type RenderedImage } from '../../src/index.ts';
import { exposeForTests, formatBytes, getGpu, h, renderChrome, webGpuMissing } from '../lib/chrome.ts';
import { modelMissing, modelUrl } from '../lib/heat.ts';
import { fetchDecoderFolder } from '../lib/model-files.ts';

/** The up-sampling factor of the final picture. */
const SCALE = 4;
/** Prompts the shipped model was trained on (Fashion-MNIST classes). */
const EXAMPLES = ['a sneaker', 'an ankle boot', 'a dress', 'a bag', 'a pair of trousers', 'a pullover', 'a sandal'];

interface ImagineRun {
  prompt: string;
  options: ImageTokenOptions;
  upsample: 'nearest' | 'bilinear';
  /** Vocabulary ids, raster order. */
  tokens: number[];
  /** onToken calls seen, in order of raster index. */
  arrivals: number[];
  /** Partial pictures drawn while generating. */
  paints: number;
  seconds: number;
  /** The final ×SCALE picture, RGBA bytes. */
  image: { width: number; height: number; data: number[] };
}

interface ImagineState {
  state: 'loading' | 'ready' | 'generating' | 'done' | 'error';
  error?: string;
  model?: string;
  runs: number;
  last?: ImagineRun;
}

const demo: ImagineState = { state: 'loading', runs: 0 };
exposeForTests('imagine', demo);

function numberInput(id: string, value: number, min: number, max: number, step: number | 'any' = 1): HTMLInputElement {
  return h('input', { id, type: 'number', value, min, max, step, required: true });
}

/** A whole number (or a number, with `real`) from a field, in [min, max], or an error naming the field. */
function readNumber(input: HTMLInputElement, name: string, min: number, max: number, real = false): number {
  const text = input.value.trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || (!real && !Number.isInteger(value)) || value < min || value > max) {
    throw new Error(`${name} must be ${real ? 'a number' : 'a whole number'} from ${min} to ${max}, got '${input.value}'`);
  }
  return value;
}

function drawImage(canvas: HTMLCanvasElement, image: RenderedImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

async function main(): Promise<void> {
  renderChrome('imagine');
  const root = document.getElementById('imagine')!;
  const { url, shipped } = modelUrl('/models/fashion-imagegen/');
  demo.model = url;
  let gen: ImageGenerator;
  const info = h('section', { class: 'card', id: 'imagine-loading' }, h('p', { class: 'muted' }, `Loading the model from ${url} …`));
  root.replaceChildren(info);
  try {
    const gpu = await getGpu().catch((err) => {
      root.replaceChildren(webGpuMissing(err));
      throw err;
    });
    try {
      const files = await fetchDecoderFolder(url);
      gen = await ImageGenerator.fromBuffers(gpu, { ...files, source: url + 'model.safetensors' });
      if (!gen.lm.tokenizer) throw new Error(`${url} has no tokenizer (vocab.json + merges.txt or tokenizer.json); this page needs text prompts`);
      const c = gen.config;
      info.replaceChildren(h('p', { class: 'muted', id: 'imagine-model' },
        `${shipped ? 'Shipped model' : 'Model'} ${url}: a ${gen.lm.config.numLayers}-layer ${gen.lm.config.family} Transformer writing a ${c.gridHeight}×${c.gridWidth} grid of ` +
        `${c.imageTokenCount} image tokens, each a ${c.patchSize}×${c.patchSize} patch (a ${gen.width}×${gen.height} picture); ${formatBytes(files.bytes)} of weights.`));
    } catch (err) {
      demo.error = modelMissing(url, err, 'imagegen-tiny');
      root.replaceChildren(h('section', { class: 'card notice error', role: 'alert', id: 'imagine-error' }, h('h2', {}, 'No model'), h('p', {}, demo.error)));
      throw err;
    }
  } catch (err) {
    demo.state = 'error';
    demo.error ??= err instanceof Error ? err.message : String(err);
    return;
  }

  const { gridHeight: H, gridWidth: W, imageTokenStart } = gen.config;
  const prompt = h('input', { id: 'imagine-prompt', type: 'text', value: EXAMPLES[0]!, spellcheck: false, autocomplete: 'off' });
  const temperature = numberInput('imagine-temperature', 1, 0, 5, 'any');
  const topK = numberInput('imagine-topk', 16, 0, Math.min(128, gen.config.imageTokenCount));
  const seed = numberInput('imagine-seed', 3, 0, 2 ** 32 - 1);
  const guidance = numberInput('imagine-guidance', gen.config.guidanceScale, 0, 10, 'any');
  const upsample = h('select', { id: 'imagine-upsample' }, h('option', { value: 'bilinear' }, 'bilinear'), h('option', { value: 'nearest' }, 'nearest'));
  const generate = h('button', { class: 'primary', id: 'imagine-generate', type: 'submit' }, 'Generate');
  const status = h('p', { class: 'status', id: 'imagine-status' }, 'Ready.');
  const examples = h('div', { class: 'imagine-examples' }, ...EXAMPLES.map((text) => {
    const button = h('button', { class: 'ghost', type: 'button' }, text);
    button.addEventListener('click', () => {
      prompt.value = text;
      form.requestSubmit();
    });
    return button;
  }));
  const form = h('form', { id: 'imagine-form', class: 'card imagine-controls' },
    h('h2', {}, 'Prompt'),
    h('div', { class: 'imagine-prompt-row' }, prompt, generate),
    shipped ? examples : null,
    h('div', { class: 'fields' },
      h('label', { for: 'imagine-temperature' }, 'Temperature', temperature, h('small', {}, '0 = greedy')),
      h('label', { for: 'imagine-topk' }, 'Top-k', topK, h('small', {}, '0 = all image tokens')),
      h('label', { for: 'imagine-seed' }, 'Seed', seed),
      h('label', { for: 'imagine-guidance' }, 'Guidance', guidance, h('small', {}, `1 = none; the model's default: ${gen.config.guidanceScale}`)),
      h('label', { for: 'imagine-upsample' }, `×${SCALE} up-sampling`, upsample),
    ),
    status,
  );

  // The grid as it grows: the partial picture with the cell being written outlined, and the ids.
  const partial = h('canvas', { id: 'imagine-partial', width: gen.width, height: gen.height });
  const overlay = h('canvas', { class: 'imagine-overlay', width: W * 16, height: H * 16 });
  const ids = h('div', { class: 'imagine-ids', id: 'imagine-ids', style: `grid-template-columns: repeat(${W}, 1fr)` });
  const idCells = Array.from({ length: H * W }, () => h('span', {}, '·'));
  ids.append(...idCells);
  const counter = h('p', { class: 'muted small', id: 'imagine-counter' }, `0 / ${H * W} tokens`);
  const final = h('canvas', { id: 'imagine-final', width: gen.width * SCALE, height: gen.height * SCALE });
  const finalCaption = h('p', { class: 'muted small' }, 'Generate an image to see it here.');

  const drawOverlay = (current: number | null) => {
    const ctx = overlay.getContext('2d')!;
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.18)';
    ctx.lineWidth = 1;
    for (let r = 0; r <= H; r++) ctx.strokeRect(0, r * 16 + 0.5, overlay.width, 0);
    for (let c = 0; c <= W; c++) ctx.strokeRect(c * 16 + 0.5, 0, 0, overlay.height);
    if (current !== null && current < H * W) {
      ctx.strokeStyle = '#f0b35d';
      ctx.lineWidth = 2;
      ctx.strokeRect((current % W) * 16 + 1, Math.floor(current / W) * 16 + 1, 14, 14);
    }
  };
  drawOverlay(null);

  root.replaceChildren(info, form, h('div', { class: 'imagine-grid' },
    h('section', { class: 'card' },
      h('h2', {}, 'The token grid, as it is written'),
      h('p', { class: 'muted small' }, `Row by row, one image token per cell; each is drawn as its ${gen.config.patchSize}×${gen.config.patchSize} codebook patch by the detokenize kernel, and cells not written yet stay empty.`),
      h('div', { class: 'imagine-pair' },
        h('div', { class: 'imagine-stack', style: `aspect-ratio: ${gen.width} / ${gen.height}` }, partial, overlay),
        h('div', {}, h('h3', {}, `Token ids (image token k is id ${imageTokenStart} + k)`), ids),
      ),
      counter,
    ),
    h('section', { class: 'card' },
      h('h2', {}, `The picture, ×${SCALE}`),
      h('p', { class: 'muted small' }, `Detokenized, then up-sampled ×${SCALE} by the upsample kernel (${gen.width * SCALE}×${gen.height * SCALE} pixels, shown 2:1).`),
      final,
      finalCaption,
    ),
  ));
  demo.state = 'ready';

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (demo.state === 'generating') return;
    demo.state = 'generating';
    demo.error = undefined;
    status.className = 'status';
    status.textContent = 'Generating the image tokens…';
    generate.disabled = true;
    const grid = new Int32Array(H * W).fill(-1);
    idCells.forEach((cell) => {
      cell.textContent = '·';
      cell.className = '';
    });
    partial.getContext('2d')!.clearRect(0, 0, partial.width, partial.height);
    final.getContext('2d')!.clearRect(0, 0, final.width, final.height);
    finalCaption.textContent = 'Waiting for the last token…';
    counter.textContent = `0 / ${H * W} tokens`;
    drawOverlay(0);

    // One partial render at a time; tokens that arrive meanwhile are drawn by the next one.
    let painting: Promise<void> | null = null;
    let again = false;
    let paints = 0;
    const paint = (): void => {
      if (painting) {
        again = true;
        return;
      }
      painting = (async () => {
        do {
          again = false;
          drawImage(partial, await gen.render(grid));
          paints++;
        } while (again);
      })().finally(() => (painting = null));
    };

    try {
      const k = readNumber(topK, 'Top-k', 0, Math.min(128, gen.config.imageTokenCount));
      const options: ImageTokenOptions = {
        temperature: readNumber(temperature, 'Temperature', 0, 5, true),
        topK: k, // 0 = all tokens (not the generation config's top_k)
        seed: readNumber(seed, 'Seed', 0, 2 ** 32 - 1),
        guidanceScale: readNumber(guidance, 'Guidance', 0, 10, true),
      };
      const mode = upsample.value as 'nearest' | 'bilinear';
      const arrivals: number[] = [];
      const started = performance.now();
      const tokens = await gen.generateTokens(prompt.value, {
        ...options,
        onToken: (index, row, col, tokenId) => {
          arrivals.push(index);
          grid[index] = tokenId;
          idCells[index]!.textContent = String(tokenId - imageTokenStart);
          idCells[index]!.className = 'set';
          idCells[index]!.title = `row ${row}, column ${col}: vocabulary id ${tokenId}`;
          counter.textContent = `${index + 1} / ${H * W} tokens`;
          drawOverlay(index + 1);
          paint();
        },
      });
      const seconds = (performance.now() - started) / 1000;
      while (painting) await painting;
      drawImage(partial, await gen.render(tokens));
      const image = await gen.render(tokens, { scale: SCALE, upsample: mode });
      drawImage(final, image);
      drawOverlay(null);
      finalCaption.textContent = `'${prompt.value}', seed ${options.seed}, temperature ${options.temperature}${options.topK ? `, top-${options.topK}` : ''}, guidance ${options.guidanceScale}, ${mode}.`;
      status.textContent = `${H * W} tokens in ${seconds.toFixed(2)} s (${((H * W) / seconds).toFixed(1)} tokens/s), then detokenized and up-sampled ×${SCALE}.`;
      status.className = 'status pass';
      demo.last = {
        prompt: prompt.value, options, upsample: mode, tokens: Array.from(tokens), arrivals, paints, seconds,
        image: { width: image.width, height: image.height, data: Array.from(image.data) },
      };
      demo.state = 'done';
    } catch (err) {
      demo.error = err instanceof Error ? err.message : String(err);
      demo.state = 'error';
      status.textContent = demo.error;
      status.className = 'status fail';
      finalCaption.textContent = 'No picture: the generation failed.';
      drawOverlay(null);
    } finally {
      await (painting as Promise<void> | null)?.catch(() => {});
      demo.runs++;
      generate.disabled = false;
    }
  });
}

void main();
