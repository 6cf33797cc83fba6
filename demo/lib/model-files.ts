/**
 * Fetching a decoder model folder in the page: config.json, model.safetensors and, when the folder
 * has them, generation_config.json and a GPT-2 byte-level tokenizer (vocab.json + merges.txt, or
 * tokenizer.json). Used by the
 * language-model and text-to-image pages. The folder's listing (heat.ts's `modelFiles`) says which
 * files exist, so nothing absent is requested (a browser logs every 404 as a console error); a
 * missing folder or file is an error that names its URL and HTTP status, which heat.ts's
 * `modelMissing` turns into advice.
 */
import { fetchGpt2Tokenizer, type Tokenizer } from '../../src/index.ts';
import { modelFiles } from './heat.ts';

export interface DecoderFiles {
  config: Record<string, unknown>;
  /** generation_config.json, or null when the folder has none (then config.json's keys count). */
  generationConfig: Record<string, unknown> | null;
  weights: ArrayBuffer;
  tokenizer?: Tokenizer;
  /** Bytes of model.safetensors, for the page's description of the model. */
  bytes: number;
}

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

/** `folder` ends in '/'. */
export async function fetchDecoderFolder(folder: string): Promise<DecoderFiles> {
  const files = await modelFiles(folder);
  for (const name of ['config.json', 'model.safetensors']) {
    if (!files.has(name)) throw new Error(`fetch ${folder}${name}: HTTP 404 (the folder has ${[...files].join(', ') || 'no files'})`);
  }
  const [config, generationConfig, weights] = await Promise.all([
    fetchOk(folder + 'config.json').then((r) => r.json() as Promise<Record<string, unknown>>),
    files.has('generation_config.json') ? fetchOk(folder + 'generation_config.json').then((r) => r.json() as Promise<Record<string, unknown>>) : null,
    fetchOk(folder + 'model.safetensors').then((r) => r.arrayBuffer()),
  ]);
  let tokenizer: Tokenizer | undefined;
  if (files.has('vocab.json') && files.has('merges.txt')) tokenizer = await fetchGpt2Tokenizer({ vocab: folder + 'vocab.json', merges: folder + 'merges.txt' });
  else if (files.has('tokenizer.json')) tokenizer = await fetchGpt2Tokenizer({ tokenizerJson: folder + 'tokenizer.json' });
  return { config, generationConfig, weights, tokenizer, bytes: weights.byteLength };
}
