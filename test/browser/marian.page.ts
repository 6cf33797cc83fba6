/**
 * Browser side of browser-marian.test.ts: the Marian fixture fetched over HTTP and run in the page
 * on navigator.gpu through `MarianModel.fromBuffers`, the call the Node loader ends in. Node calls
 * these exports through `page.call`, judges the results against the PyTorch fixtures and reports
 * each verdict back with `record`, so the page shows a results table for the screenshot.
 */
import { createDevice, type Gpu } from '../../src/device/gpu.ts';
import { MarianModel } from '../../src/models/marian/model.ts';

let gpu: Gpu | null = null;
let table: HTMLTableSectionElement | null = null;
let model: MarianModel | null = null;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Open the device, draw the table header and load the model folder served at `folderUrl`. */
export async function load(folderUrl: string): Promise<{ adapter: Gpu['report']['adapter']; decoderLayers: number }> {
  gpu ??= await createDevice();
  const info = document.createElement('p');
  const a = gpu.report.adapter;
  info.textContent = `Marian (marian-tiny) on adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`;
  const element = document.createElement('table');
  element.innerHTML = '<thead><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr></thead>';
  table = element.createTBody();
  document.getElementById('root')!.append(info, element);
  const [configBytes, weights] = await Promise.all([fetchBytes(`${folderUrl}config.json`), fetchBytes(`${folderUrl}model.safetensors`)]);
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as Record<string, unknown>;
  model = await MarianModel.fromBuffers(gpu, { config, weights, source: `${folderUrl}model.safetensors` });
  return { adapter: gpu.report.adapter, decoderLayers: model.config.decoderLayers };
}

/** Teacher-forced logits per source, flattened to plain arrays. */
export async function logits(sources: number[][], decoder: number[][]): Promise<{ logits: number[][]; ms: number }> {
  const start = performance.now();
  const out = await model!.logits(sources, decoder);
  return { logits: out.map((o) => Array.from(o)), ms: Math.round(performance.now() - start) };
}

/** Greedy (numBeams 1) or beam search over a batch of sources. */
export async function generate(sources: number[][], options: { numBeams: number; maxNewTokens: number; lengthPenalty?: number; earlyStopping?: boolean | 'never' }): Promise<{ ids: number[][]; ms: number }> {
  const start = performance.now();
  const results = await model!.generate(sources, options);
  return { ids: results.map((r) => r.ids), ms: Math.round(performance.now() - start) };
}

/** Add a row to the results table (the verdict is Node's). */
export function record(check: string, pass: boolean, ms: number, detail: string): void {
  const row = table!.insertRow();
  for (const text of [check, pass ? 'pass' : 'fail', String(ms), detail.length > 120 ? detail.slice(0, 117) + '...' : detail]) row.insertCell().textContent = text;
  row.cells[1]!.className = pass ? 'pass' : 'fail';
}

export function destroy(): void {
  model?.destroy();
  model = null;
  gpu?.destroy();
  gpu = null;
}
