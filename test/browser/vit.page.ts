/**
 * Browser side of browser-vit.test.ts: ViT checkpoints fetched over HTTP with
 * `VisionTransformer.fromUrl` and run in the page on navigator.gpu. Images arrive as fetched PNG
 * bytes (decoded by the browser), as RGBA arrays, or as ImageBitmaps. Node judges the results
 * against the PyTorch fixtures and reports each verdict back with `record` for the page's table.
 */
import { createDevice, type Gpu } from '../../src/device/gpu.ts';
import { VisionTransformer } from '../../src/models/vit/model.ts';

let gpu: Gpu | null = null;
let table: HTMLTableSectionElement | null = null;
const models = new Map<string, VisionTransformer>();

export async function init(): Promise<{ adapter: Gpu['report']['adapter'] }> {
  gpu ??= await createDevice();
  if (!table) {
    const element = document.createElement('table');
    element.innerHTML = '<thead><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr></thead>';
    table = element.createTBody();
    document.getElementById('root')!.append(element);
  }
  return { adapter: gpu.report.adapter };
}

function model(name: string): VisionTransformer {
  const vit = models.get(name);
  if (!vit) throw new Error(`no model named '${name}' was loaded in the page`);
  return vit;
}

export async function load(name: string, folderUrl: string): Promise<{ labels: number; channels: number }> {
  if (!gpu) await init();
  const vit = await VisionTransformer.fromUrl(gpu!, folderUrl, { maxBatch: 4 });
  models.set(name, vit);
  return { labels: vit.labels.length, channels: vit.config.numChannels };
}

/** Logits of normalised pixels [B, C, H, W], flattened. */
export async function logits(name: string, pixels: number[]): Promise<{ logits: number[]; ms: number }> {
  const start = performance.now();
  const out = await model(name).logits(Float32Array.from(pixels));
  return { logits: Array.from(out), ms: Math.round(performance.now() - start) };
}

type Result = { index: number; label: string; logits: number[] };
const plain = (r: { index: number; label: string; logits: Float32Array }): Result => ({ index: r.index, label: r.label, logits: Array.from(r.logits) });

/** Classify fetched PNG/JPEG files, decoded by the browser, in one batch. */
export async function classifyUrls(name: string, urls: string[]): Promise<{ results: Result[]; ms: number }> {
  const start = performance.now();
  const files = await Promise.all(urls.map(async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer())));
  const results = await model(name).classify(files);
  return { results: results.map(plain), ms: Math.round(performance.now() - start) };
}

/** Classify RGBA pixel arrays. */
export async function classifyRgba(name: string, images: { width: number; height: number; data: number[] }[]): Promise<{ results: Result[]; ms: number }> {
  const start = performance.now();
  const results = await model(name).classify(images.map((i) => ({ width: i.width, height: i.height, data: Uint8ClampedArray.from(i.data) })));
  return { results: results.map(plain), ms: Math.round(performance.now() - start) };
}

/** Classify an ImageBitmap made from a fetched file. */
export async function classifyBitmap(name: string, url: string): Promise<{ results: Result[]; ms: number }> {
  const start = performance.now();
  const bitmap = await createImageBitmap(await (await fetch(url)).blob(), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const results = await model(name).classify(bitmap);
  bitmap.close();
  return { results: results.map(plain), ms: Math.round(performance.now() - start) };
}

export function record(check: string, pass: boolean, ms: number, detail: string): void {
  const row = table!.insertRow();
  for (const text of [check, pass ? 'pass' : 'fail', String(ms), detail]) row.insertCell().textContent = text;
  row.cells[1]!.className = pass ? 'pass' : 'fail';
}

export async function destroy(): Promise<void> {
  for (const vit of models.values()) await vit.destroy();
  models.clear();
  gpu?.destroy();
  gpu = null;
}
