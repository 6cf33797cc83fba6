/**
 * Browser side of browser-marian.test.ts: a Marian fixture fetched over HTTP (config.json,
 * generation_config.json when the folder has one, model.safetensors) and run in the page on
 * navigator.gpu through `MarianModel.fromBuffers`, the call the Node loader ends in. Node calls
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

/**
 * Open the device and draw the table header (the first time), then load the model folder served
 * at `folderUrl`, whose file names are `files` (the page fetches only those), in place of the last.
 */
export async function load(folderUrl: string, files: string[]): Promise<{ adapter: Gpu['report']['adapter']; decoderLayers: number; generationSource: string; numBeams: number }> {
  gpu ??= await createDevice();
  if (!table) {
    const info = document.createElement('p');
    const a = gpu.report.adapter;
    info.textContent = `Marian (marian-tiny, marian-tiny-genconfig) on adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`;
    const element = document.createElement('table');
    element.innerHTML = '<thead><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr></thead>';
    table = element.createTBody();
    document.getElementById('root')!.append(info, element);
  }
  const json = async (name: string) => JSON.parse(new TextDecoder().decode(await fetchBytes(folderUrl + name))) as Record<string, unknown>;
  const [config, generationConfig, weights] = await Promise.all([
    json('config.json'),
    files.includes('generation_config.json') ? json('generation_config.json') : null,
    fetchBytes(`${folderUrl}model.safetensors`),
  ]);
  model?.destroy();
  model = await MarianModel.fromBuffers(gpu, { config, generationConfig, weights, source: `${folderUrl}model.safetensors` });
  return { adapter: gpu.report.adapter, decoderLayers: model.config.decoderLayers, generationSource: model.generation.source, numBeams: model.generation.numBeams };
}

/** Teacher-forced logits per source, flattened to plain arrays. */
export async function logits(sources: number[][], decoder: number[][]): Promise<{ logits: number[][]; ms: number }> {
  const start = performance.now();
  const out = await model!.logits(sources, decoder);
  return { logits: out.map((o) => Array.from(o)), ms: Math.round(performance.now() - start) };
}

/** Greedy (numBeams 1) or beam search over a batch of sources; options left out come from the model's generation config. */
export async function generate(sources: number[][], options: { numBeams?: number; maxNewTokens?: number; lengthPenalty?: number; earlyStopping?: boolean | 'never' }): Promise<{ ids: number[][]; scores: (number | undefined)[]; ms: number }> {
  const start = performance.now();
  const results = await model!.generate(sources, options);
  return { ids: results.map((r) => r.ids), scores: results.map((r) => r.score), ms: Math.round(performance.now() - start) };
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
