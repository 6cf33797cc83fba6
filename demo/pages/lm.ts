/**
 * The language-model page: a prompt, streaming generation (greedy, or sampled with temperature,
 * top-k and a seed), and an attention view. When a generation ends, the whole sequence (prompt and
 * continuation) goes through `LanguageModel.attentionMaps` once: one prefill graph whose outputs
 * are the attention kernel's probabilities, [heads, T, T] per layer. Hovering a token (or a row
 * of the matrix) colours every earlier token by the weight the chosen head put on it.
 *
 * The model folder is `?model=` (e.g. `/fixtures/gpt2-bytes-tiny/`), by default the shipped
 * `/models/shakespeare-gpt/`. The page's state is `window.tessera.lm` (test/demo-lm.test.ts
 * compares its ids and maps with Node's).
 */
import { LanguageModel, type GenerateOptions } from '../../src/index.ts';
import { exposeForTests, formatBytes, getGpu, h, renderChrome, webGpuMissing } from '../lib/chrome.ts';
import { heatCss, heatGradient, modelMissing, modelUrl } from '../lib/heat.ts';
import { fetchDecoderFolder } from '../lib/model-files.ts';

/** The longest sequence `attentionMaps` takes (one prefill chunk). */
const MAX_MAP_TOKENS = 256;

interface LmRun {
  prompt: string;
  options: GenerateOptions;
  promptIds: number[];
  /** The generated ids (not the prompt). */
  ids: number[];
  text: string;
  tokensPerSecond: number;
  /** Tokens the attention maps cover (prompt + continuation, at most the context). */
  mapTokens: number;
  /** Per layer, [heads, mapTokens, mapTokens] row-major. */
  maps: number[][];
}

interface LmState {
  state: 'loading' | 'ready' | 'generating' | 'done' | 'error';
  error?: string;
  model?: string;
  runs: number;
  last?: LmRun;
}

const demo: LmState = { state: 'loading', runs: 0 };
exposeForTests('lm', demo);

/** A token as a chip shows its text; whitespace is made visible so every token can be hovered. */
function chipText(text: string): string {
  if (text === '') return '∅';
  return text.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/^ $/, '␣');
}

function field(id: string, label: string, input: HTMLInputElement, hint?: string): HTMLLabelElement {
  input.id = id;
  return h('label', { for: id }, label, input, hint ? h('small', {}, hint) : null);
}

function numberInput(value: number, min: number, max: number, step: number | 'any' = 1): HTMLInputElement {
  return h('input', { type: 'number', value, min, max, step, required: true });
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

class AttentionView {
  readonly element: HTMLElement;
  private readonly layerSelect = h('select', { id: 'lm-layer', 'aria-label': 'Layer' });
  private readonly headSelect = h('select', { id: 'lm-head', 'aria-label': 'Head' });
  private readonly canvas = h('canvas', { id: 'lm-matrix', width: 360, height: 360 });
  private readonly caption = h('p', { class: 'muted small', id: 'lm-hover-caption' });
  private readonly topList = h('ol', { class: 'lm-top', id: 'lm-top' });
  private maps: Float32Array[] = [];
  private heads = 0;
  private tokens: string[] = [];
  private hovered: number | null = null;

  constructor(private readonly chips: () => HTMLElement[]) {
    this.layerSelect.addEventListener('change', () => this.draw());
    this.headSelect.addEventListener('change', () => this.draw());
    this.canvas.addEventListener('mousemove', (e) => {
      const T = this.tokens.length;
      if (T === 0) return;
      const rect = this.canvas.getBoundingClientRect();
      const row = Math.floor(((e.clientY - rect.top) / rect.height) * T);
      if (row >= 0 && row < T) this.hover(row);
    });
    this.element = h('section', { class: 'card lm-attention', id: 'lm-attention' },
      h('h2', {}, 'Attention'),
      h('p', { class: 'muted' }, 'Hover a token in the text (or a row of the matrix): the earlier tokens light up by the weight this head gave them when it read the hovered token. Row i of the matrix is that token; its columns are the tokens it can see, 0 … i.'),
      h('div', { class: 'fields' },
        h('label', {}, 'Layer', this.layerSelect),
        h('label', {}, 'Head', this.headSelect),
      ),
      h('div', { class: 'lm-attention-row' },
        h('div', {},
          this.canvas,
          h('div', { class: 'heat-legend' }, '0', h('span', { class: 'scale', style: `background: ${heatGradient()}` }), '1', h('span', {}, '(matrix: √weight; text: weight ÷ the row\'s largest)')),
        ),
        h('div', { class: 'lm-attention-side' }, h('h3', {}, 'Strongest weights'), this.caption, this.topList),
      ),
    );
    this.clear('Generate some text: the attention maps are computed when it ends.');
  }

  clear(message: string): void {
    this.maps = [];
    this.tokens = [];
    this.hovered = null;
    this.caption.textContent = message;
    this.topList.replaceChildren();
    this.canvas.getContext('2d')!.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.element.classList.add('empty');
  }

  show(maps: Float32Array[], heads: number, tokens: string[]): void {
    const layer = Math.min(Number(this.layerSelect.value) || 0, maps.length - 1);
    const head = this.headSelect.value || 'mean';
    this.maps = maps;
    this.heads = heads;
    this.tokens = tokens;
    this.layerSelect.replaceChildren(...maps.map((_, i) => h('option', { value: i }, `layer ${i}`)));
    this.headSelect.replaceChildren(h('option', { value: 'mean' }, 'mean of heads'), ...Array.from({ length: heads }, (_, i) => h('option', { value: i }, `head ${i}`)));
    this.layerSelect.value = String(layer);
    this.headSelect.value = head === 'mean' || Number(head) < heads ? head : 'mean';
    this.element.classList.remove('empty');
    this.hovered = tokens.length - 1;
    this.draw();
  }

  /** The chosen head's (or the heads' mean) weights of query i over keys 0..T−1. */
  private row(i: number): Float32Array {
    const T = this.tokens.length;
    const map = this.maps[Number(this.layerSelect.value)]!;
    const head = this.headSelect.value;
    if (head !== 'mean') return map.subarray((Number(head) * T + i) * T, (Number(head) * T + i + 1) * T);
    const mean = new Float32Array(T);
    for (let hd = 0; hd < this.heads; hd++) {
      for (let j = 0; j < T; j++) mean[j]! += map[(hd * T + i) * T + j]! / this.heads;
    }
    return mean;
  }

  hover(i: number | null): void {
    if (this.maps.length === 0 || (i !== null && i >= this.tokens.length)) return;
    this.hovered = i;
    this.draw();
  }

  private draw(): void {
    if (this.maps.length === 0) return;
    const T = this.tokens.length;
    const ctx = this.canvas.getContext('2d')!;
    const cell = this.canvas.width / T;
    ctx.fillStyle = '#f1f3f7';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (let i = 0; i < T; i++) {
      const row = this.row(i);
      for (let j = 0; j <= i; j++) {
        ctx.fillStyle = heatCss(Math.sqrt(row[j]!)); // √: the many small weights of long rows stay visible
        ctx.fillRect(j * cell, i * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    const i = this.hovered;
    const chips = this.chips();
    if (i === null) {
      for (const chip of chips) chip.removeAttribute('style');
      return;
    }
    ctx.strokeStyle = '#e9727a';
    ctx.lineWidth = 2;
    ctx.strokeRect(1, i * cell, this.canvas.width - 2, Math.max(cell, 2));
    const row = this.row(i);
    let max = 0;
    for (let j = 0; j <= i; j++) max = Math.max(max, row[j]!);
    chips.forEach((chip, j) => {
      chip.classList.toggle('hovered', j === i);
      chip.classList.toggle('future', j > i);
      if (j > i || max === 0) {
        chip.removeAttribute('style');
        chip.title = `token ${j}`;
        return;
      }
      // Opacity follows the weight too, so tokens the head ignored stay plain.
      const t = row[j]! / max;
      chip.style.background = heatCss(t, t);
      chip.title = `token ${j}: weight ${row[j]!.toFixed(4)}`;
    });
    const show = (j: number) => JSON.stringify(this.tokens[j]!).slice(1, -1) || '∅';
    this.caption.textContent = `Token ${i} ('${show(i)}'), ${this.headSelect.value === 'mean' ? 'mean of the heads' : `head ${this.headSelect.value}`} of layer ${this.layerSelect.value}:`;
    const order = Array.from({ length: i + 1 }, (_, j) => j).sort((a, b) => row[b]! - row[a]!).slice(0, 6);
    this.topList.replaceChildren(...order.map((j) => h('li', {},
      h('code', {}, `${j}: '${show(j)}'`),
      h('span', { class: 'bar-track' }, h('span', { class: 'bar', style: `width: ${(100 * row[j]!).toFixed(1)}%` })),
      h('span', { class: 'num' }, row[j]!.toFixed(3)),
    )));
  }
}

async function main(): Promise<void> {
  renderChrome('lm');
  const root = document.getElementById('lm')!;
  const { url, shipped } = modelUrl('/models/shakespeare-gpt/');
  demo.model = url;
  let lm: LanguageModel;
  const loading = h('section', { class: 'card', id: 'lm-loading' }, h('p', { class: 'muted' }, `Loading the model from ${url} …`));
  root.replaceChildren(loading);
  try {
    const gpu = await getGpu().catch((err) => {
      root.replaceChildren(webGpuMissing(err));
      throw err;
    });
    try {
      const files = await fetchDecoderFolder(url);
      lm = await LanguageModel.fromBuffers(gpu, { ...files, source: url + 'model.safetensors' });
      if (!lm.tokenizer) throw new Error(`${url} has no tokenizer (vocab.json + merges.txt or tokenizer.json); this page needs text prompts`);
      loading.replaceChildren(h('p', { class: 'muted', id: 'lm-model' },
        `${shipped ? 'Shipped model' : 'Model'} ${url}: GPT-2 family '${lm.config.family}', ${lm.config.numLayers} layers × ${lm.config.numHeads} heads, width ${lm.config.dim}, context ${lm.maxContext} tokens, vocabulary ${lm.config.vocabSize}; ${formatBytes(files.bytes)} of weights.`));
    } catch (err) {
      demo.error = modelMissing(url, err, 'gpt2-bytes-tiny');
      root.replaceChildren(h('section', { class: 'card notice error', role: 'alert', id: 'lm-error' }, h('h2', {}, 'No model'), h('p', {}, demo.error)));
      throw err;
    }
  } catch (err) {
    demo.state = 'error';
    demo.error ??= err instanceof Error ? err.message : String(err);
    return;
  }

  const prompt = h('textarea', { id: 'lm-prompt', rows: 3, spellcheck: false }, 'ROMEO:\nBut soft, what light');
  const maxTokens = numberInput(Math.min(100, lm.maxContext), 0, lm.maxContext);
  const temperature = numberInput(0.8, 0, 5, 'any');
  const topK = numberInput(20, 0, Math.min(128, lm.config.vocabSize));
  const seed = numberInput(1, 0, 2 ** 32 - 1);
  const generate = h('button', { class: 'primary', id: 'lm-generate', type: 'submit' }, 'Generate');
  const stop = h('button', { class: 'ghost', id: 'lm-stop', type: 'button', disabled: true }, 'Stop');
  const status = h('p', { class: 'status', id: 'lm-status' }, 'Ready.');
  const output = h('div', { class: 'lm-output', id: 'lm-output', 'aria-live': 'polite' });
  let chips: HTMLElement[] = [];
  const view = new AttentionView(() => chips);
  output.addEventListener('mouseover', (e) => {
    const index = (e.target as HTMLElement).dataset?.index;
    if (index !== undefined) view.hover(Number(index));
  });

  const form = h('form', { id: 'lm-form', class: 'card lm-controls' },
    h('h2', {}, 'Prompt'),
    prompt,
    h('div', { class: 'fields' },
      field('lm-max', 'New tokens', maxTokens),
      field('lm-temperature', 'Temperature', temperature, '0 = greedy'),
      field('lm-topk', 'Top-k', topK, '0 = all tokens'),
      field('lm-seed', 'Seed', seed),
      h('div', { class: 'lm-buttons' }, generate, stop),
    ),
    status,
  );
  root.replaceChildren(loading, h('div', { class: 'lm-grid' },
    h('div', {}, form, h('section', { class: 'card' }, h('h2', {}, 'Text'), h('p', { class: 'muted small' }, 'Each box is one token; the prompt\'s are outlined. ↵ is a new line, ␣ a space.'), output)),
    view.element,
  ));
  demo.state = 'ready';

  let stopRequested = false;
  stop.addEventListener('click', () => (stopRequested = true));
  const addChip = (text: string, index: number, isPrompt: boolean) => {
    const chip = h('span', { class: isPrompt ? 'tok prompt' : 'tok', 'data-index': index }, chipText(text));
    output.append(chip);
    if (text.includes('\n')) output.append(h('br'));
    chips.push(chip);
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (demo.state === 'generating') return;
    demo.state = 'generating';
    demo.error = undefined;
    status.className = 'status';
    status.textContent = 'Generating…';
    generate.disabled = true;
    stop.disabled = false;
    stopRequested = false;
    view.clear('Generating…');
    chips = [];
    output.replaceChildren();
    try {
      const k = readNumber(topK, 'Top-k', 0, Math.min(128, lm.config.vocabSize));
      const options: GenerateOptions = {
        maxNewTokens: readNumber(maxTokens, 'New tokens', 0, lm.maxContext),
        temperature: readNumber(temperature, 'Temperature', 0, 5, true),
        topK: k, // 0 = all tokens (not the generation config's top_k)
        seed: readNumber(seed, 'Seed', 0, 2 ** 32 - 1),
      };
      const promptIds = lm.encodePrompt(prompt.value);
      const tokenizer = lm.tokenizer!;
      const utf8 = new TextDecoder();
      promptIds.forEach((id, i) => addChip(utf8.decode(tokenizer.tokenBytes(id, promptIds[i - 1])), i, true));
      const run: LmRun = { prompt: prompt.value, options, promptIds, ids: [], text: '', tokensPerSecond: 0, mapTokens: 0, maps: [] };
      const started = performance.now();
      for await (const token of lm.generate(promptIds, options)) {
        run.ids.push(token.id);
        run.text += token.text;
        addChip(token.text, promptIds.length + run.ids.length - 1, false);
        status.textContent = `${run.ids.length} tokens, ${(run.ids.length / ((performance.now() - started) / 1000)).toFixed(1)} tokens/s`;
        if (stopRequested) break;
      }
      const seconds = (performance.now() - started) / 1000;
      run.tokensPerSecond = run.ids.length / seconds;
      // The last generated token was never fed back, and the maps cover at most the context (and
      // one prefill chunk of MAX_MAP_TOKENS).
      const sequence = [...promptIds, ...run.ids];
      const all = sequence.slice(0, Math.min(lm.maxContext, MAX_MAP_TOKENS));
      status.textContent = `${run.ids.length} tokens in ${seconds.toFixed(2)} s (${run.tokensPerSecond.toFixed(1)} tokens/s${stopRequested ? ', stopped' : ''}). Computing the attention maps…`;
      const maps = await lm.attentionMaps(all);
      run.mapTokens = all.length;
      run.maps = maps.map((m) => Array.from(m));
      view.show(maps, lm.config.numHeads, all.map((id, i) => utf8.decode(tokenizer.tokenBytes(id, all[i - 1]))));
      status.textContent = `${run.ids.length} tokens in ${seconds.toFixed(2)} s (${run.tokensPerSecond.toFixed(1)} tokens/s${stopRequested ? ', stopped' : ''}); attention maps of ${all.length === sequence.length ? 'all' : 'the first'} ${all.length} tokens ready: hover a token.`;
      status.className = 'status pass';
      demo.last = run;
      demo.state = 'done';
    } catch (err) {
      demo.error = err instanceof Error ? err.message : String(err);
      demo.state = 'error';
      status.textContent = demo.error;
      status.className = 'status fail';
      view.clear('No attention maps: the generation failed.');
    } finally {
      demo.runs++;
      generate.disabled = false;
      stop.disabled = true;
    }
  });
}

void main();
