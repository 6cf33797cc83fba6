/**
 * The translation demo: source text in, translation out (`MarianModel.translate`, beam search),
 * and the cross-attention alignment matrix between the target and source tokens: the decoder is
 * run again over the translation it chose with the attention probabilities as outputs
 * (`MarianModel.crossAttention`), and the page shows any layer and head, or the mean of the heads.
 *
 * `?model=/fixtures/marian-tiny/` runs the tiny test model instead of the shipped
 * `models/multi30k-marian`; a model folder without tokenizer files (source.spm, target.spm,
 * vocab.json) translates token ids. The last result is readable as `window.tessera.translate`
 * (test/demo-translate.test.ts).
 */
import { MarianModel, MarianTokenizer, type CrossAttention } from '../../src/index.ts';
import { exposeForTests, getGpu, h, renderChrome, webGpuMissing } from '../lib/chrome.ts';
import { heatCss, heatGradient, modelFiles, modelMissing, modelUrl } from '../lib/heat.ts';

interface TranslateDemoState {
  state: 'loading' | 'ready' | 'running' | 'done' | 'error';
  error?: string;
  runs: number;
  model?: { url: string; tokenizer: boolean; layers: number; heads: number };
  last?: {
    source: string;
    sourceIds: number[];
    numBeams: number;
    maxNewTokens: number;
    ids: number[];
    score?: number;
    text?: string;
    sourceTokens: string[];
    targetTokens: string[];
    /** Per decoder layer, [heads, target, source] flattened. */
    cross: number[][];
  };
}

const demo: TranslateDemoState = { state: 'loading', runs: 0 };
exposeForTests('translate', demo);

const EXAMPLE = 'A little girl climbs into a wooden playhouse.';

let model: MarianModel;
let tokenizer: MarianTokenizer | undefined;
let shown: { maps: CrossAttention; sourceTokens: string[]; targetTokens: string[] } | null = null;

const status = h('p', { class: 'status', id: 'tr-status', role: 'status' }, 'Loading the model…');
const sourceBox = h('textarea', { id: 'tr-source', rows: 3, spellcheck: false });
const beamsField = h('input', { type: 'number', id: 'tr-beams', min: 1, max: 8, step: 1, value: 4 });
const maxField = h('input', { type: 'number', id: 'tr-max', min: 1, max: 128, step: 1, value: 40 });
const runButton = h('button', { type: 'submit', class: 'primary', id: 'tr-run' }, 'Translate');
const output = h('div', { class: 'tr-output', id: 'tr-output' });
const layerSelect = h('select', { id: 'tr-layer' });
const headSelect = h('select', { id: 'tr-head' });
const matrix = h('div', { class: 'align-wrap', id: 'tr-matrix' });
const hoverNote = h('p', { class: 'muted small', id: 'tr-hover' }, 'Hover a cell to read its weight.');

/** Parse the ids box: whole numbers separated by spaces or commas. */
function parseIds(text: string): number[] {
  const parts = text.trim().split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new Error('Enter source token ids, e.g. "5 17 33 0" (this model has no tokenizer; end with the EOS id)');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`'${p}' is not a token id (this model has no tokenizer: enter whole numbers)`);
    return Number(p);
  });
}

function whole(field: HTMLInputElement, name: string, min: number, max: number): number {
  const value = Number(field.value);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got '${field.value}'`);
  return value;
}

/** The readable form of one target id. */
function targetToken(id: number): string {
  if (!tokenizer) return String(id);
  return tokenizer.decode([id], { skipSpecialTokens: false }) || `#${id}`;
}

/** The matrix for the chosen layer and head (or the mean over heads, head −1): rows target, columns source. */
function chosenMatrix(): { values: Float32Array; rows: number; cols: number } {
  const { maps, sourceTokens, targetTokens } = shown!;
  const [T, S] = [targetTokens.length, sourceTokens.length];
  const probs = maps.layers[Number(layerSelect.value)]!;
  const head = Number(headSelect.value);
  const heads = head < 0 ? Array.from({ length: maps.heads }, (_, i) => i) : [head];
  const values = new Float32Array(T * S);
  for (const hd of heads) for (let i = 0; i < T * S; i++) values[i]! += probs[hd * T * S + i]! / heads.length;
  return { values, rows: T, cols: S };
}

function drawMatrix(): void {
  if (!shown) return;
  const { sourceTokens, targetTokens } = shown;
  const { values, cols } = chosenMatrix();
  const cells: HTMLElement[] = [h('div', { class: 'corner' })];
  sourceTokens.forEach((t, j) => cells.push(h('div', { class: 'col-head', 'data-col': j, title: t }, h('span', {}, t))));
  targetTokens.forEach((t, i) => {
    cells.push(h('div', { class: 'row-head', 'data-row': i, title: t }, t));
    for (let j = 0; j < cols; j++) {
      const v = values[i * cols + j]!;
      const cell = h('div', { class: 'cell', 'data-row': i, 'data-col': j, style: `background: ${heatCss(v)}` });
      cell.addEventListener('mouseenter', () => {
        matrix.querySelectorAll('.hot').forEach((e) => e.classList.remove('hot'));
        matrix.querySelectorAll(`.row-head[data-row="${i}"], .col-head[data-col="${j}"]`).forEach((e) => e.classList.add('hot'));
        hoverNote.textContent = `Producing '${t}', the decoder put ${(100 * v).toFixed(1)} % of its attention on source token '${sourceTokens[j]}'.`;
      });
      cells.push(cell);
    }
  });
  matrix.replaceChildren(h('div', { class: 'align-grid', style: `grid-template-columns: max-content repeat(${cols}, 30px)` }, ...cells));
}

function showOutput(text: string | undefined, ids: number[], score: number | undefined, ms: number): void {
  const lines = [
    h('p', { class: 'muted small' }, `ids ${ids.join(' ')}`),
    h('p', { class: 'muted small' }, `${score !== undefined ? `score ${score.toFixed(4)} (log-probability per token), ` : ''}${ids.length} tokens in ${ms.toFixed(0)} ms`),
  ];
  output.replaceChildren(...(text !== undefined ? [h('p', { class: 'translation', id: 'tr-text' }, text || '(empty)')] : []), ...lines);
}

let queue: Promise<void> = Promise.resolve();

/** Translate what the form holds, then compute and show the alignment; one run at a time. */
function translate(): Promise<void> {
  queue = queue.then(async () => {
    demo.state = 'running';
    runButton.disabled = true;
    status.className = 'status';
    status.textContent = 'Translating…';
    try {
      const numBeams = whole(beamsField, 'Beams', 1, 8);
      const maxNewTokens = whole(maxField, 'Max new tokens', 1, Math.min(128, model.config.maxPositions));
      const source = sourceBox.value;
      const sourceIds = tokenizer ? tokenizer.encode(source) : parseIds(source);
      const sourceTokens = tokenizer ? [...tokenizer.tokenize(source), '</s>'] : sourceIds.map(String);
      if (sourceTokens.length !== sourceIds.length) throw new Error(`internal: ${sourceTokens.length} source tokens for ${sourceIds.length} ids`);
      const started = performance.now();
      const [result] = await model.generate([sourceIds], { numBeams, maxNewTokens });
      const ms = performance.now() - started;
      const { ids, score } = result!;
      const text = tokenizer?.decode(ids);
      showOutput(text, ids, score, ms);
      status.textContent = 'Computing the alignment…';
      const maps = await model.crossAttention(sourceIds, ids);
      const targetTokens = ids.map(targetToken);
      shown = { maps, sourceTokens, targetTokens };
      drawMatrix();
      demo.last = { source, sourceIds, numBeams, maxNewTokens, ids, score, text, sourceTokens, targetTokens, cross: maps.layers.map((l) => Array.from(l)) };
      demo.state = 'done';
      status.textContent = `Translated with ${numBeams === 1 ? 'greedy search' : `beam search (${numBeams} beams)`}.`;
    } catch (err) {
      demo.state = 'error';
      demo.error = err instanceof Error ? err.message : String(err);
      status.className = 'status fail';
      status.textContent = demo.error;
    }
    runButton.disabled = false;
    demo.runs++;
  });
  return queue;
}

async function loadModel(url: string): Promise<void> {
  const files = await modelFiles(url);
  const fetchOk = async (name: string) => {
    const response = await fetch(url + name);
    if (!response.ok) throw new Error(`fetch ${url}${name}: HTTP ${response.status} ${response.statusText}`);
    return response;
  };
  // generation_config.json, when the folder has one, holds the generation defaults (as in HF).
  const [config, generationConfig, weights] = await Promise.all([
    fetchOk('config.json').then((r) => r.json()),
    files.has('generation_config.json') ? fetchOk('generation_config.json').then((r) => r.json()) : null,
    fetchOk('model.safetensors').then((r) => r.arrayBuffer()),
  ]);
  // A folder without the tokenizer files translates ids.
  if (['source.spm', 'target.spm', 'vocab.json'].every((f) => files.has(f))) {
    const optional = (name: string) => (files.has(name) ? fetchOk(name).then((r) => r.text()) : Promise.resolve(undefined));
    tokenizer = MarianTokenizer.fromBuffers({
      sourceSpm: new Uint8Array(await (await fetchOk('source.spm')).arrayBuffer()),
      targetSpm: new Uint8Array(await (await fetchOk('target.spm')).arrayBuffer()),
      vocab: await (await fetchOk('vocab.json')).text(),
      targetVocab: await optional('target_vocab.json'),
      tokenizerConfig: await optional('tokenizer_config.json'),
    }, url);
  }
  model = await MarianModel.fromBuffers(await getGpu(), { config, generationConfig, weights, tokenizer, source: `${url}model.safetensors` });
}

async function main(): Promise<void> {
  renderChrome('translate');
  const root = document.getElementById('translate')!;
  try {
    await getGpu();
  } catch (err) {
    root.replaceChildren(webGpuMissing(err));
    demo.state = 'error';
    demo.error = err instanceof Error ? err.message : String(err);
    return;
  }
  const { url } = modelUrl('/models/multi30k-marian/');
  root.replaceChildren(h('section', { class: 'card' }, status));
  try {
    await loadModel(url);
  } catch (err) {
    demo.state = 'error';
    demo.error = modelMissing(url, err, 'marian-tiny');
    status.className = 'status fail';
    status.textContent = demo.error;
    return;
  }
  const c = model.config;
  demo.model = { url, tokenizer: tokenizer !== undefined, layers: c.decoderLayers, heads: c.decoderHeads };
  beamsField.value = String(Math.min(8, model.generation.numBeams));
  layerSelect.replaceChildren(...Array.from({ length: c.decoderLayers }, (_, i) => h('option', { value: i, selected: i === c.decoderLayers - 1 }, `decoder layer ${i + 1}${i === c.decoderLayers - 1 ? ' (last)' : ''}`)));
  headSelect.replaceChildren(h('option', { value: -1, selected: true }, 'mean of heads'), ...Array.from({ length: c.decoderHeads }, (_, i) => h('option', { value: i }, `head ${i + 1}`)));
  for (const control of [layerSelect, headSelect]) control.addEventListener('change', drawMatrix);
  if (tokenizer) sourceBox.value = EXAMPLE;
  else sourceBox.placeholder = `token ids, e.g. 5 17 33 ${c.eosId} (end with EOS = ${c.eosId})`;

  // novalidate: the page checks the fields itself and says what is wrong in the status line.
  const form = h('form', { id: 'tr-form', class: 'tr-form', novalidate: true },
    h('label', { class: 'source-label', for: 'tr-source' }, tokenizer ? 'English' : 'Source token ids (this model has no tokenizer)'),
    sourceBox,
    h('div', { class: 'fields' },
      h('label', {}, 'Beams', beamsField, h('small', {}, '1 = greedy')),
      h('label', {}, 'Max new tokens', maxField),
      runButton,
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void translate();
  });
  root.replaceChildren(
    h('div', { class: 'tr-grid' },
      h('section', { class: 'card' }, h('h2', {}, tokenizer ? 'English → German' : 'Source → target'), form, status, output),
      h('section', { class: 'card' },
        h('h2', {}, 'Cross-attention alignment'),
        h('p', { class: 'muted small' },
          'Row: the target token being produced. Column: a source token. Each cell is the weight the decoder\'s cross-attention ' +
          'put on that source token (the decoder is run again over the chosen translation with the attention probabilities as outputs); rows sum to 1.'),
        h('div', { class: 'fields' }, h('label', {}, 'Layer', layerSelect), h('label', {}, 'Head', headSelect)),
        matrix,
        h('div', { class: 'heat-legend' }, h('span', {}, '0'), h('span', { class: 'scale', style: `background: ${heatGradient()}` }), h('span', {}, '1')),
        hoverNote,
      ),
    ),
  );
  demo.state = 'ready';
  status.textContent = `Model ready: ${c.encoderLayers} encoder and ${c.decoderLayers} decoder layers, ${c.decoderHeads} heads, ${c.vocabSize} tokens.`;
}

void main();
