/**
 * The fuzz targets: each loader with the real fixture files it is seeded from, how a case is made
 * from them, and what the loader is asked to do with it (parse, validate, read every tensor or
 * token), everything up to the point where a model would upload weights to a GPU.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseSafetensors, type SafetensorsFile } from '../../src/models/safetensors.ts';
import { loadExpectedTensors, type ExpectedTensor } from '../../src/models/checkpoint.ts';
import { gpt2, gpt2Config } from '../../src/models/gpt2.ts';
import { llama, llamaConfig, llama2cLmConfig } from '../../src/models/llama.ts';
import { parseLlama2c } from '../../src/models/llama2c.ts';
import { checkGenerationIds, generationConfigOf } from '../../src/models/generation-config.ts';
import { marianConfig, marianExpected } from '../../src/models/marian/config.ts';
import { imageProcessorConfig, vitConfig, vitExpectedTensors } from '../../src/models/vit/config.ts';
import { imageGenConfig } from '../../src/models/imagegen/config.ts';
import { decodeImage, preprocessImage } from '../../src/models/vit/image.ts';
import { Gpt2Tokenizer } from '../../src/models/tokenizers/gpt2.ts';
import { parseLlama2cTokenizer } from '../../src/models/tokenizers/llama2c.ts';
import { SentencePieceTokenizer } from '../../src/models/tokenizers/sentencepiece.ts';
import { MarianTokenizer } from '../../src/models/tokenizers/marian.ts';
import { decodeNpy, encodeNpy } from '../../src/runtime/npy.ts';
import { parseBatch } from '../../src/cli/generate.ts';
import { parseTranslateBatch } from '../../src/cli/translate.ts';
import { readGreedyGolden } from '../../src/cli/translation-eval.ts';
import type { LmConfig } from '../../src/models/decoder.ts';
import {
  jsonText, mutateBytes, mutateJpeg, mutateJsonValue, mutateLlama2cHeader, mutateNpy, mutatePng, mutateSafetensors, safetensorsBoundaries,
} from './mutators.ts';
import type { Rng } from './prng.ts';

export interface Target {
  readonly name: string;
  /** How often it is picked, relative to the others. */
  readonly weight: number;
  /** Words one of which every error message must contain: the file the loader was told it reads. */
  readonly fileNames: readonly string[];
  /** Run one case; returns when the input was accepted, throws when it was refused. */
  run(rng: Rng): void | Promise<void>;
}

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(join(ROOT, path)));
const readText = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const readJson = (path: string) => JSON.parse(readText(path)) as Record<string, unknown>;
const utf8 = new TextEncoder();

/** Apply 1–3 mutations: most bugs need one, some need a structured change and then a byte change. */
function repeat<T>(rng: Rng, value: T, mutate: (v: T) => T): T {
  const count = 1 + (rng.chance(0.7) ? 0 : rng.int(3));
  for (let i = 0; i < count; i++) value = mutate(value);
  return value;
}

/** Text that a tokenizer is asked to encode after loading: ASCII, accents, emoji, controls, long runs. */
const PROBE_TEXTS = ['Hello world', ' a  b ', 'Ünïcödé façade', '🙂 日本語', '\u0000\t\n', 'x'.repeat(300), '>>de<< </s> <unk>', ''];

/** Encode and decode a little, so that tables built at load time are also used. */
function probeTokenizer(rng: Rng, t: { vocabSize: number; encode(text: string): number[]; decode(ids: readonly number[]): string }): void {
  t.encode(rng.pick(PROBE_TEXTS));
  const ids = Array.from({ length: 8 }, () => rng.int(Math.max(1, Math.min(t.vocabSize, 1000))));
  t.decode(ids);
}

// ---- safetensors + checkpoint validation --------------------------------------------------------

interface CheckpointSeed {
  file: Uint8Array;
  expected: ExpectedTensor[];
  options: Parameters<typeof loadExpectedTensors>[2];
}

function checkpointSeed(folder: string): CheckpointSeed {
  const config = readJson(`${folder}/config.json`);
  const file = read(`${folder}/model.safetensors`);
  const type = config.model_type;
  if (type === 'llama') {
    const c = llamaConfig(config);
    return { file, expected: llama.expected(c), options: llama.matchOptions };
  }
  if (type === 'marian') return { file, expected: marianExpected(marianConfig(config)), options: { allowExtra: true } };
  if (type === 'vit') return { file, expected: vitExpectedTensors(vitConfig(config)), options: { allowExtra: true } };
  return { file, expected: gpt2.expected(gpt2Config(config)), options: gpt2.matchOptions };
}

const CHECKPOINTS = [
  'test/fixtures/models/gpt2-tiny', 'test/fixtures/models/gpt2-tiny-noprefix-f16', 'test/fixtures/models/llama-tiny-tied-bf16',
  'test/fixtures/models/llama-tiny', 'test/fixtures/models/marian-tiny', 'test/fixtures/models/vit-tiny', 'test/fixtures/models/imagegen-tiny',
];

/** Read every tensor as the loaders do (float32 for float dtypes, int32 for integer ones). */
function readAll(file: SafetensorsFile): void {
  for (const name of file.names) {
    const dtype = file.entry(name).dtype;
    if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64') {
      file.float32(name);
      file.f16Bits(name);
    } else file.int32(name);
  }
}

const safetensors: Target = {
  name: 'safetensors',
  weight: 4,
  fileNames: ['fuzz/model.safetensors'],
  run(rng) {
    const seed = seeds.checkpoints[rng.int(seeds.checkpoints.length)]!;
    const bytes = repeat(rng, seed.file, (b) => (rng.chance(0.7) ? safeMutateSafetensors(rng, b) : mutateBytes(rng, b, boundariesOf(b))));
    const file = parseSafetensors(bytes, 'fuzz/model.safetensors');
    readAll(file);
    loadExpectedTensors(file, seed.expected, seed.options);
  },
};

/** Structured mutation needs a parseable header; once a byte mutation broke it, keep mutating bytes. */
function safeMutateSafetensors(rng: Rng, bytes: Uint8Array): Uint8Array {
  try {
    return mutateSafetensors(rng, bytes);
  } catch {
    return mutateBytes(rng, bytes);
  }
}

function boundariesOf(bytes: Uint8Array): number[] {
  try {
    return safetensorsBoundaries(bytes);
  } catch {
    return [0, 8];
  }
}

// ---- config.json / generation_config.json / preprocessor_config.json -------------------------------

const CONFIG_FOLDERS = [
  'test/fixtures/models/gpt2-tiny', 'test/fixtures/models/gpt2-tiny-genconfig', 'test/fixtures/models/llama-tiny', 'test/fixtures/models/llama-tiny-tied-bf16',
  'test/fixtures/models/marian-tiny', 'test/fixtures/models/marian-tiny-genconfig', 'test/fixtures/models/vit-tiny', 'test/fixtures/models/vit-tiny-grey',
  'test/fixtures/models/imagegen-tiny', 'test/fixtures/models/imagegen-palette-llama',
  'models/shakespeare-gpt', 'models/fashion-vit', 'models/multi30k-marian', 'models/fashion-imagegen',
];

interface ConfigSeed {
  config: Record<string, unknown>;
  generation: Record<string, unknown> | null;
  preprocessor: Record<string, unknown> | null;
}

function tryJson(path: string): Record<string, unknown> | null {
  try {
    return readJson(path);
  } catch {
    return null;
  }
}

/** The model config of any family, as the model loaders read it (the architecture picks the parser). */
function modelConfig(json: Record<string, unknown>): { lm?: LmConfig; vocab: number; expected: ExpectedTensor[] } {
  if (json.model_type === 'marian') {
    const c = marianConfig(json);
    return { vocab: c.decoderVocabSize, expected: marianExpected(c) };
  }
  if (json.model_type === 'vit') {
    const c = vitConfig(json);
    return { vocab: c.labels.length, expected: vitExpectedTensors(c) };
  }
  const lm = json.model_type === 'llama' ? llamaConfig(json) : gpt2Config(json);
  return { lm, vocab: lm.vocabSize, expected: (json.model_type === 'llama' ? llama : gpt2).expected(lm) };
}

const configs: Target = {
  name: 'config-json',
  weight: 4,
  fileNames: ['config.json', 'generation_config.json', 'preprocessor_config.json'],
  run(rng) {
    const seed = structuredClone(rng.pick(seeds.configs));
    const which = rng.int(seed.generation ? 3 : 2);
    const tree = which === 2 ? seed.generation! : which === 1 && seed.preprocessor ? seed.preprocessor : seed.config;
    repeat<unknown>(rng, tree, (t) => mutateJsonValue(rng, t));
    const model = modelConfig(seed.config);
    if (seed.config.model_type === 'vit' && seed.preprocessor) imageProcessorConfig(seed.preprocessor, vitConfig(seed.config));
    if (seed.config.imagegen !== undefined && model.lm) imageGenConfig(seed.config, model.lm);
    checkGenerationIds(generationConfigOf(seed.config, seed.generation), model.vocab);
  },
};

// ---- tokenizers ---------------------------------------------------------------------------------

const gpt2Vocab: Target = {
  name: 'gpt2-vocab-merges',
  weight: 2,
  fileNames: ['GPT-2', 'vocab', 'merges'],
  run(rng) {
    const seed = rng.pick(seeds.gpt2Vocab);
    let vocab = seed.vocab, merges = seed.merges;
    if (rng.chance(0.6)) vocab = jsonText(rng, repeat(rng, JSON.parse(vocab) as unknown, (v) => mutateJsonValue(rng, v)));
    else merges = new TextDecoder().decode(repeat<Uint8Array>(rng, utf8.encode(merges), (b) => mutateBytes(rng, b)));
    probeTokenizer(rng, Gpt2Tokenizer.fromVocabAndMerges(vocab, merges));
  },
};

const tokenizerJson: Target = {
  name: 'tokenizer-json',
  weight: 2,
  fileNames: ['tokenizer.json', 'GPT-2 tokenizer'],
  run(rng) {
    const seed = rng.pick(seeds.tokenizerJson);
    const tree = repeat(rng, JSON.parse(seed.text) as unknown, (v) => mutateJsonValue(rng, v));
    const text = jsonText(rng, tree);
    if (seed.kind === 'gpt2') probeTokenizer(rng, Gpt2Tokenizer.fromTokenizerJson(text));
    else {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return; // SentencePieceTokenizer.fromTokenizerJson takes parsed JSON: text errors are the caller's
      }
      const t = SentencePieceTokenizer.fromTokenizerJson(json, 'fuzz/tokenizer.json');
      probeTokenizer(rng, t);
    }
  },
};

const sentencepiece: Target = {
  name: 'sentencepiece-model',
  weight: 2,
  fileNames: ['fuzz/tokenizer.model'],
  run(rng) {
    const bytes = repeat(rng, rng.pick(seeds.spm), (b) => mutateBytes(rng, b));
    const t = SentencePieceTokenizer.fromModelProto(bytes, 'fuzz/tokenizer.model');
    probeTokenizer(rng, t);
  },
};

const marianTokenizer: Target = {
  name: 'marian-tokenizer',
  weight: 1,
  fileNames: ['fuzz/marian'],
  run(rng) {
    const files = { ...seeds.marian };
    const part = rng.int(4);
    if (part === 0) files.sourceSpm = repeat(rng, files.sourceSpm, (b) => mutateBytes(rng, b));
    else if (part === 1) files.vocab = jsonText(rng, mutateJsonValue(rng, JSON.parse(files.vocab)));
    else files.tokenizerConfig = jsonText(rng, mutateJsonValue(rng, JSON.parse(files.tokenizerConfig) as unknown));
    if (part === 3) files.targetSpm = repeat(rng, files.targetSpm, (b) => mutateBytes(rng, b));
    const t = MarianTokenizer.fromBuffers(files, 'fuzz/marian');
    t.decode(t.encode(rng.pick(PROBE_TEXTS)));
  },
};

const llama2cTokenizer: Target = {
  name: 'llama2c-tokenizer',
  weight: 2,
  fileNames: ['fuzz/tok512.bin'],
  run(rng) {
    const bytes = repeat(rng, seeds.tok512, (b) => (rng.chance(0.3) ? writeHeaderInt(rng, b) : mutateBytes(rng, b, [0, 4])));
    const vocabSize = rng.pick([undefined, 512, 0, -1, 1e9, 2 ** 31]);
    probeTokenizer(rng, parseLlama2cTokenizer(bytes, vocabSize, 'fuzz/tok512.bin'));
  },
};

/** max_token_length, the tokenizer file's only header field. */
function writeHeaderInt(rng: Rng, b: Uint8Array): Uint8Array {
  if (b.length < 4) return b;
  const out = b.slice();
  new DataView(out.buffer).setInt32(0, rng.pick([0, -1, 1, 0x7fffffff, -0x80000000, 1 << 30]), true);
  return out;
}

// ---- llama2.c checkpoints -----------------------------------------------------------------------

const llama2c: Target = {
  name: 'llama2c-checkpoint',
  weight: 2,
  fileNames: ['fuzz/stories260K.bin'],
  run(rng) {
    const bytes = repeat(rng, seeds.stories, (b) => (rng.chance(0.6) ? mutateLlama2cHeader(rng, b) : mutateBytes(rng, b, [0, 4, 28])));
    const checkpoint = parseLlama2c(bytes, 'fuzz/stories260K.bin');
    const c = llama2cLmConfig(checkpoint.config);
    loadExpectedTensors(checkpoint, llama.expected(c), { allowExtra: true });
  },
};

// ---- images -------------------------------------------------------------------------------------

const PREPROCESS = { doResize: true, height: 8, width: 8, resample: 2, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

const images: Target = {
  name: 'png-jpeg',
  weight: 3,
  fileNames: ['fuzz/image'],
  async run(rng) {
    const seed = rng.pick(seeds.images);
    const bytes = repeat(rng, seed, (b) => (b[0] === 0x89 ? mutatePng(rng, b) : mutateJpeg(rng, b)));
    const image = await decodeImage(bytes, 'fuzz/image');
    preprocessImage(image, PREPROCESS, rng.pick([1, 3] as const), 'fuzz/image');
  },
};

// ---- .npy ---------------------------------------------------------------------------------------

const npy: Target = {
  name: 'npy',
  weight: 1,
  fileNames: ['npy'],
  run(rng) {
    const bytes = repeat(rng, seeds.npy, (b) => (rng.chance(0.5) ? safeMutate(() => mutateNpy(rng, b), () => mutateBytes(rng, b, [0, 6, 8, 10])) : mutateBytes(rng, b, [0, 6, 8, 10])));
    decodeNpy(bytes);
  },
};

function safeMutate<T>(structured: () => T, fallback: () => T): T {
  try {
    return structured();
  } catch {
    return fallback();
  }
}

// ---- JSONL batch inputs -------------------------------------------------------------------------

function mutateJsonl(rng: Rng, text: string): string {
  const lines = text.split('\n');
  const i = rng.int(lines.length);
  const op = rng.int(4);
  if (op === 0) lines[i] = new TextDecoder().decode(mutateBytes(rng, utf8.encode(lines[i]!)));
  else if (op === 1) lines.splice(i, 0, rng.pick(['null', '[]', '1', '"x"', '{}', '{"ids": []}', '{"ids": [-1]}', '{"prompt": 1}', '{"text": null}', '{"file": ""}', '[[[[[[[[[[]]]]]]]]]]']));
  else {
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch {
      value = {};
    }
    lines[i] = jsonText(rng, mutateJsonValue(rng, value));
  }
  return lines.join('\n');
}

const JSONL_DIR = join(tmpdir(), `tessera-fuzz-${process.pid}`);

const jsonl: Target = {
  name: 'jsonl',
  weight: 2,
  fileNames: ['fuzz/in.jsonl', 'greedy_test100.jsonl'],
  run(rng) {
    const kind = rng.int(3);
    if (kind === 0) parseBatch(mutateJsonl(rng, seeds.generateJsonl), 'fuzz/in.jsonl', {});
    else if (kind === 1) parseTranslateBatch(mutateJsonl(rng, seeds.translateJsonl), 'fuzz/in.jsonl');
    else {
      mkdirSync(JSONL_DIR, { recursive: true });
      writeFileSync(join(JSONL_DIR, 'greedy_test100.jsonl'), mutateJsonl(rng, seeds.greedyJsonl));
      readGreedyGolden(JSONL_DIR, seeds.greedySources);
    }
  },
};

// ---- the seeds, read once -----------------------------------------------------------------------

const greedy = readText('models/multi30k-marian/greedy_test100.jsonl').split('\n').filter((l) => l.trim() !== '').slice(0, 20);
const greedyRows = greedy.map((l) => JSON.parse(l) as { source: string; source_ids: number[] });

const seeds = {
  checkpoints: CHECKPOINTS.map(checkpointSeed),
  configs: CONFIG_FOLDERS.map((folder): ConfigSeed => ({
    config: readJson(`${folder}/config.json`),
    generation: tryJson(`${folder}/generation_config.json`),
    preprocessor: tryJson(`${folder}/preprocessor_config.json`),
  })),
  gpt2Vocab: ['test/fixtures/models/gpt2-bytes-tiny', 'test/fixtures/models/imagegen-tiny', 'models/shakespeare-gpt'].map((f) => ({ vocab: readText(`${f}/vocab.json`), merges: readText(`${f}/merges.txt`) })),
  tokenizerJson: [
    { kind: 'gpt2', text: readText('test/fixtures/models/imagegen-palette-llama/tokenizer.json') },
    { kind: 'sentencepiece', text: readText('test/fixtures/sentencepiece/bpe.tokenizer.json') },
    { kind: 'sentencepiece', text: readText('test/fixtures/sentencepiece/unigram-bytes.tokenizer.json') },
  ],
  spm: [
    read('test/fixtures/sentencepiece/bpe.model'), read('test/fixtures/sentencepiece/bpe-raw.model'), read('test/fixtures/sentencepiece/unigram-bytes.model'),
    new Uint8Array(gunzipSync(read('test/fixtures/sentencepiece/unigram-nfkc.model.gz'))), read('test/fixtures/sentencepiece/marian/source.spm'),
  ],
  marian: {
    sourceSpm: read('test/fixtures/sentencepiece/marian/source.spm'),
    targetSpm: read('test/fixtures/sentencepiece/marian/target.spm'),
    vocab: readText('test/fixtures/sentencepiece/marian/vocab.json'),
    tokenizerConfig: readText('test/fixtures/sentencepiece/marian/tokenizer_config.json'),
  },
  tok512: read('../shared/data/stories260K/tok512.bin'),
  stories: read('../shared/data/stories260K/stories260K.bin'),
  images: ['grey-13x17.png', 'palette-31x23.png', 'rgb-24x24.png', 'rgb-300x7.png', 'rgb-37x29.png', 'rgb-40x40.jpg', 'rgba-50x61.png'].map((f) => read(`test/fixtures/vit-images/${f}`)),
  // No .npy is committed: the seed is what `tessera logits --npy` writes (encodeNpy), a [3, 5] float32 array.
  npy: encodeNpy(Float32Array.from({ length: 15 }, (_, i) => i / 7), [3, 5]),
  generateJsonl: greedyRows.map((r, i) => JSON.stringify(i % 2 ? { prompt: r.source, max_new_tokens: 8, temperature: 0.7 } : { ids: r.source_ids, top_k: 5 })).join('\n'),
  translateJsonl: greedyRows.map((r, i) => JSON.stringify(i % 2 ? { text: r.source } : { ids: r.source_ids })).join('\n'),
  greedyJsonl: greedy.join('\n'),
  greedySources: greedyRows.map((r) => r.source),
};

export const TARGETS: readonly Target[] = [safetensors, configs, gpt2Vocab, tokenizerJson, sentencepiece, marianTokenizer, llama2cTokenizer, llama2c, images, npy, jsonl];
