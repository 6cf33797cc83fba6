/**
 * Browser side of browser-lm.test.ts: language models fetched over HTTP and run in the page on
 * navigator.gpu, through the same `LanguageModel.fromBuffers` the Node loader ends in.
 * Bundled by test/util/browser.ts; Node calls these exports through `page.call`, judges the
 * results against the fixtures, and reports each verdict back with `record` so the page shows a
 * results table for the screenshot.
 */
import { createDevice, type Gpu } from '../../src/device/gpu.ts';
import { LanguageModel } from '../../src/models/lm.ts';
import type { GenerateOptions } from '../../src/models/lm/options.ts';
import { parseLlama2cTokenizer } from '../../src/models/tokenizers/llama2c.ts';

let gpu: Gpu | null = null;
let table: HTMLTableSectionElement | null = null;
const models = new Map<string, LanguageModel>();

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Open the device and draw the table header; returns the adapter and its features. */
export async function init(): Promise<{ adapter: Gpu['report']['adapter']; features: string[] }> {
  gpu ??= await createDevice();
  if (!table) {
    const info = document.createElement('p');
    const a = gpu.report.adapter;
    info.textContent = `adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}; features: ${gpu.report.features.join(', ') || 'none'}`;
    const element = document.createElement('table');
    element.innerHTML = '<thead><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr></thead>';
    table = element.createTBody();
    document.getElementById('root')!.append(info, element);
  }
  return { adapter: gpu.report.adapter, features: gpu.report.features };
}

function model(name: string): LanguageModel {
  const lm = models.get(name);
  if (!lm) throw new Error(`no model named '${name}' was loaded in the page`);
  return lm;
}

/** A llama2.c checkpoint and its tokenizer, fetched from two URLs. */
export async function loadLlama2c(name: string, modelUrl: string, tokenizerUrl: string): Promise<{ vocabSize: number; numLayers: number }> {
  if (!gpu) await init();
  const [weights, tokenizerBytes] = await Promise.all([fetchBytes(modelUrl), fetchBytes(tokenizerUrl)]);
  // The header's vocab_size (7th int32) is negative when the classifier is untied; the tokenizer only needs its size.
  const vocabSize = Math.abs(new DataView(weights.buffer, weights.byteOffset, 28).getInt32(20, true));
  const tokenizer = parseLlama2cTokenizer(tokenizerBytes, vocabSize, tokenizerUrl);
  const lm = await LanguageModel.fromBuffers(gpu!, { weights, tokenizer, source: modelUrl });
  models.set(name, lm);
  return { vocabSize: lm.config.vocabSize, numLayers: lm.config.numLayers };
}

/** A Hugging Face folder served at `folderUrl`: config.json + model.safetensors (no tokenizer), and generation_config.json when `generation`. */
export async function loadHuggingFace(name: string, folderUrl: string, generation = false): Promise<{ vocabSize: number; numLayers: number }> {
  if (!gpu) await init();
  const [configBytes, weights, generationBytes] = await Promise.all([
    fetchBytes(`${folderUrl}config.json`),
    fetchBytes(`${folderUrl}model.safetensors`),
    generation ? fetchBytes(`${folderUrl}generation_config.json`) : null,
  ]);
  const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  const config = json(configBytes);
  const lm = await LanguageModel.fromBuffers(gpu!, { config, generationConfig: generationBytes && json(generationBytes), weights, source: `${folderUrl}model.safetensors` });
  models.set(name, lm);
  return { vocabSize: lm.config.vocabSize, numLayers: lm.config.numLayers };
}

/** Greedy decoding (on the GPU) after `prompt`; ids and text as generated. */
export async function greedy(name: string, prompt: number[] | string, maxNewTokens: number): Promise<{ ids: number[]; text: string; ms: number }> {
  const start = performance.now();
  const ids: number[] = [];
  let text = '';
  for await (const token of model(name).generate(prompt, { maxNewTokens, temperature: 0 })) {
    ids.push(token.id);
    text += token.text;
  }
  return { ids, text, ms: Math.round(performance.now() - start) };
}

/** generate() with `options` over the model's generation config; the ids as generated. */
export async function generate(name: string, prompt: number[], options: GenerateOptions): Promise<{ ids: number[]; ms: number }> {
  const start = performance.now();
  const ids: number[] = [];
  for await (const token of model(name).generate(prompt, options)) ids.push(token.id);
  return { ids, ms: Math.round(performance.now() - start) };
}

/** Logits [T, V] (by prefill, or one token at a time through the decode graph), flattened to a plain array. */
export async function logits(name: string, ids: number[], incremental: boolean): Promise<{ logits: number[]; ms: number }> {
  const start = performance.now();
  const out = await model(name).logits(ids, { incremental });
  return { logits: Array.from(out), ms: Math.round(performance.now() - start) };
}

/** Add a row to the results table (the verdict is Node's). */
export function record(check: string, pass: boolean, ms: number, detail: string): void {
  const row = table!.insertRow();
  for (const text of [check, pass ? 'pass' : 'fail', String(ms), detail.length > 120 ? detail.slice(0, 117) + '...' : detail]) row.insertCell().textContent = text;
  row.cells[1]!.className = pass ? 'pass' : 'fail';
}

export function destroy(): void {
  for (const lm of models.values()) lm.destroy();
  models.clear();
  gpu?.destroy();
  gpu = null;
}
