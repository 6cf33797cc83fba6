/**
 * Browser side of browser-imagegen.test.ts: image-token generators fetched over HTTP and run in
 * the page through `ImageGenerator.fromBuffers`. The picture is painted into a canvas as the
 * tokens arrive (each new token re-renders the partial grid, whose missing cells are transparent),
 * so the screenshot shows what a page would. Node judges the results against the fixtures.
 */
import { createDevice, type Gpu } from '../../src/device/gpu.ts';
import { ImageGenerator, type RenderedImage } from '../../src/models/imagegen/generator.ts';
import { Gpt2Tokenizer } from '../../src/models/tokenizers/gpt2.ts';
import type { Tokenizer } from '../../src/models/tokenizers/tokenizer.ts';

let gpu: Gpu | null = null;
const generators = new Map<string, ImageGenerator>();

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status}`);
  return response;
}

/** Open the device; returns the adapter's description. */
export async function init(): Promise<string> {
  gpu ??= await createDevice();
  const a = gpu.report.adapter;
  return [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ');
}

/** A checkpoint folder served at `folderUrl`, with its tokenizer: vocab.json + merges.txt, or tokenizer.json. */
export async function load(name: string, folderUrl: string, tokenizerKind: 'vocab+merges' | 'tokenizer.json'): Promise<{ width: number; height: number }> {
  if (!gpu) await init();
  const [config, weights] = await Promise.all([
    fetchOk(`${folderUrl}config.json`).then((r) => r.json() as Promise<Record<string, unknown>>),
    fetchOk(`${folderUrl}model.safetensors`).then((r) => r.arrayBuffer()),
  ]);
  let tokenizer: Tokenizer;
  if (tokenizerKind === 'tokenizer.json') tokenizer = Gpt2Tokenizer.fromTokenizerJson(await (await fetchOk(`${folderUrl}tokenizer.json`)).text());
  else tokenizer = Gpt2Tokenizer.fromVocabAndMerges(await (await fetchOk(`${folderUrl}vocab.json`)).text(), await (await fetchOk(`${folderUrl}merges.txt`)).text());
  const generator = await ImageGenerator.fromBuffers(gpu!, { config, weights, tokenizer, source: `${folderUrl}model.safetensors` });
  generators.set(name, generator);
  return { width: generator.width, height: generator.height };
}

function generator(name: string): ImageGenerator {
  const g = generators.get(name);
  if (!g) throw new Error(`no generator named '${name}' was loaded in the page`);
  return g;
}

function paint(canvas: HTMLCanvasElement, image: RenderedImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.style.width = `${3 * image.width}px`; // shown larger, pixels kept sharp
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

/** Logits [T, V] of `ids`, flattened. */
export async function logits(name: string, ids: number[]): Promise<number[]> {
  return Array.from(await generator(name).lm.logits(ids));
}

/**
 * Greedy image for `prompt`, painted into a new canvas as it grows; returns the tokens, how many
 * partial renders were painted, and the final ×`scale` picture's RGBA bytes.
 */
export async function imagine(name: string, prompt: string, scale: number, mode: 'nearest' | 'bilinear'): Promise<{ tokens: number[]; paints: number; rgba: number[]; width: number; height: number; ms: number }> {
  const gen = generator(name);
  const start = performance.now();
  const caption = document.createElement('p');
  caption.textContent = `${name}: "${prompt}" (×${scale} ${mode})`;
  const canvas = document.createElement('canvas');
  canvas.style.cssText = 'image-rendering: pixelated; border: 1px solid #ccc';
  document.getElementById('root')!.append(caption, canvas);
  const partial = new Array<number>(gen.config.gridHeight * gen.config.gridWidth).fill(-1);
  let paints = 0;
  const pending: Promise<void>[] = [];
  const tokens = await gen.generateTokens(prompt, {
    onToken: (index, _row, _col, id) => {
      partial[index] = id;
      pending.push(gen.render(partial.slice(), { scale, upsample: mode }).then((image) => {
        paint(canvas, image);
        paints++;
      }));
    },
  });
  await Promise.all(pending);
  const image = await gen.render(tokens, { scale, upsample: mode });
  paint(canvas, image);
  return { tokens: Array.from(tokens), paints, rgba: Array.from(image.data), width: image.width, height: image.height, ms: Math.round(performance.now() - start) };
}

export function destroy(): void {
  for (const g of generators.values()) g.destroy();
  generators.clear();
  gpu?.destroy();
  gpu = null;
}
