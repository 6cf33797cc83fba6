/**
 * One small case for each loader bug the fuzzer found (docs/fuzzing.md). Each input is built here
 * from a committed fixture or a few bytes, and each must now fail with a typed error that names the
 * file and the limit, quickly, without allocating what the file claims.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CheckpointError, TokenizerError } from '../../src/models/errors.ts';
import { gpt2Config } from '../../src/models/gpt2.ts';
import { vitConfig } from '../../src/models/vit/config.ts';
import { parseSafetensors } from '../../src/models/safetensors.ts';
import { decodeImage, ImageError } from '../../src/models/vit/image.ts';
import { Gpt2Tokenizer } from '../../src/models/tokenizers/gpt2.ts';
import { SentencePieceTokenizer } from '../../src/models/tokenizers/sentencepiece.ts';
import { MarianTokenizer } from '../../src/models/tokenizers/marian.ts';
import { decodeNpy, encodeNpy, NpyError } from '../../src/runtime/npy.ts';
import { readGreedyGolden } from '../../src/cli/translation-eval.ts';
import { UsageError } from '../../src/cli/args.ts';
import { deeplyNestedText, setPngSize, splitSafetensors } from './mutators.ts';

const fixture = (path: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${path}`, import.meta.url)));
const fixtureJson = (path: string) => JSON.parse(new TextDecoder().decode(fixture(path))) as Record<string, unknown>;
/** What JSON.parse gives for a value nested 100,000 deep (JSON.stringify overflows the stack on it). */
const deep = () => JSON.parse(deeplyNestedText(100_000)) as unknown;

describe('GPT-2 vocabulary', () => {
  test('an id of 1e9 is refused before a 1e9-entry table is allocated (Node aborted out of memory)', () => {
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('{"a": 1000000000}', '')).toThrow(/has invalid id 1000000000 \(ids are integers in \[0, 4194304\)\)/);
  });

  test('ids that are not integers are refused (new Array(NaN) threw a RangeError)', () => {
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('{"a": "x"}', '')).toThrow(TokenizerError);
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('{"a": 1.5}', '')).toThrow(TokenizerError);
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('null', '')).toThrow(TokenizerError);
  });

  test('tokenizer.json merges and added_tokens of the wrong kind are refused (TypeError)', () => {
    const json = fixtureJson('models/imagegen-palette-llama/tokenizer.json') as { model: { merges: unknown[] }; added_tokens: unknown };
    expect(() => Gpt2Tokenizer.fromTokenizerJson({ ...json, model: { ...json.model, merges: [null] } })).toThrow(/tokenizer.json: merge 0 null is not a pair/);
    expect(() => Gpt2Tokenizer.fromTokenizerJson({ ...json, added_tokens: 5 })).toThrow(/tokenizer.json: added_tokens is not a list/);
    expect(() => Gpt2Tokenizer.fromTokenizerJson({ ...json, model: 'BPE' })).toThrow(/tokenizer.json: model type "BPE" is not BPE/);
  });
});

describe('PNG and JPEG headers', () => {
  const png = fixture('vit-images/rgb-24x24.png');

  test('a PNG declaring 100,000×100,000 is refused at once, naming the limit (it took 90 s and 3.8 GB)', async () => {
    const started = performance.now();
    await expect(decodeImage(setPngSize(png, 100_000, 100_000), 'big.png')).rejects.toThrow(/big.png: the PNG header says 100000×100000 pixels, more than the limit of 67108864/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('a PNG declaring 8000×8000 over 1 kB of data is refused: deflate cannot expand that far', async () => {
    await expect(decodeImage(setPngSize(png, 8000, 8000), 'lie.png')).rejects.toThrow(/lie.png: .*8000×8000.*compressed data \(IDAT\) inflate to at most/);
  });

  test('a PNG declaring 0×0 is refused by name (pngjs failed reading byteWidth of undefined)', async () => {
    await expect(decodeImage(setPngSize(png, 0, 0), 'empty.png')).rejects.toThrow(/empty.png: the PNG header says 0×0 pixels/);
  });

  test('a JPEG frame header declaring 65,535×65,535 is refused', async () => {
    const jpeg = fixture('vit-images/rgb-40x40.jpg');
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
    const view = new DataView(jpeg.buffer, jpeg.byteOffset);
    view.setUint16(sof + 5, 65_535);
    view.setUint16(sof + 7, 65_535);
    await expect(decodeImage(jpeg, 'big.jpg')).rejects.toThrow(ImageError);
  });

  test('the fixtures still decode', async () => {
    expect((await decodeImage(png, 'rgb-24x24.png')).width).toBe(24);
    expect((await decodeImage(fixture('vit-images/rgb-40x40.jpg'), 'rgb-40x40.jpg')).height).toBe(40);
  });
});

describe('config.json', () => {
  const gpt2 = fixtureJson('models/gpt2-tiny/config.json');
  const vit = fixtureJson('models/vit-tiny/config.json');

  test('a layer count of 1e9 is refused (building its expected tensors hung and ran out of memory)', () => {
    expect(() => gpt2Config({ ...gpt2, n_layer: 1e9 })).toThrow(/GPT-2 config.json: 'n_layer' = 1000000000 is over the limit of 4096 layers/);
    expect(() => vitConfig({ ...vit, num_hidden_layers: 1e9 })).toThrow(CheckpointError);
  });

  test('ViT num_labels of 1e9 without id2label is refused (it allocated a billion names)', () => {
    const { id2label: _, label2id: __, ...rest } = vit;
    expect(() => vitConfig({ ...rest, num_labels: 1e9 })).toThrow(/'num_labels' 1000000000 is over the limit of 1048576/);
  });

  test("an activation named after an Object property ('toString') is refused, not taken for a function", () => {
    expect(() => vitConfig({ ...vit, hidden_act: 'toString' })).toThrow(/ViT config.json: hidden_act 'toString' is not supported/);
  });

  test('a value nested 100,000 deep gives a CheckpointError, not a stack overflow in the message', () => {
    expect(() => gpt2Config({ ...gpt2, n_embd: deep() })).toThrow(/GPT-2 config.json: 'n_embd' must be a positive integer, got a list nested too deep to print/);
    expect(() => vitConfig({ ...vit, hidden_act: deep() })).toThrow(CheckpointError);
  });
});

describe('safetensors', () => {
  test('a shape nested 100,000 deep gives a CheckpointError naming the tensor', () => {
    const file = fixture('models/gpt2-tiny/model.safetensors');
    const { header, data } = splitSafetensors(file);
    const name = Object.keys(header).find((k) => k !== '__metadata__')!;
    (header[name] as { shape: unknown }).shape = 'DEEP';
    const json = new TextEncoder().encode(JSON.stringify(header).replace('"DEEP"', deeplyNestedText(100_000)));
    const bytes = new Uint8Array(8 + json.length + data.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    bytes.set(data, 8 + json.length);
    expect(() => parseSafetensors(bytes, 'deep.safetensors')).toThrow(new RegExp(`deep.safetensors': tensor '${name.replace(/\./g, '\\.')}': shape a list nested too deep`));
  });
});

describe('tokenizer files', () => {
  test('a Precompiled normalizer whose charsmap is not base64 is refused (atob threw InvalidCharacterError)', () => {
    const json = fixtureJson('sentencepiece/unigram-bytes.tokenizer.json');
    const bad = { ...json, normalizer: { type: 'Precompiled', precompiled_charsmap: '***' } };
    expect(() => SentencePieceTokenizer.fromTokenizerJson(bad, 'bad/tokenizer.json')).toThrow(/bad\/tokenizer.json: Precompiled normalizer: precompiled_charsmap is not base64/);
  });

  test('a BPE vocab id nested 100,000 deep is refused by name (String() overflowed the stack)', () => {
    const json = fixtureJson('sentencepiece/bpe.tokenizer.json') as { model: { vocab: Record<string, unknown> } };
    const vocab = { ...json.model.vocab, '<unk>': deep() };
    expect(() => SentencePieceTokenizer.fromTokenizerJson({ ...json, model: { ...json.model, vocab } }, 'bpe.tokenizer.json')).toThrow(TokenizerError);
  });

  test('a Marian vocab.json id past its entries is refused naming vocab.json (it failed later, in encode)', () => {
    const vocab = fixtureJson('sentencepiece/marian/vocab.json');
    const files = {
      sourceSpm: fixture('sentencepiece/marian/source.spm'), targetSpm: fixture('sentencepiece/marian/target.spm'),
      vocab: JSON.stringify({ ...vocab, '▁the': 1e308 }),
    };
    expect(() => MarianTokenizer.fromBuffers(files, 'opus')).toThrow(/opus\/vocab.json: "▁the" has id 1e\+308, not an integer in \[0, \d+\)/);
  });
});

describe('.npy and JSONL', () => {
  test('negative dimensions are refused ((-2, -2) was read as 4 elements)', () => {
    const npy = encodeNpy(new Float32Array(4), [2, 2]);
    const text = new TextDecoder().decode(npy.subarray(10, 80)).replace('(2, 2)', '(-2,-2)');
    const bytes = npy.slice();
    bytes.set(new TextEncoder().encode(text), 10);
    expect(() => decodeNpy(bytes)).toThrow(NpyError);
    expect(() => decodeNpy(bytes)).toThrow(/shape \(-2,-2\) is not a tuple of non-negative integers/);
  });

  test("a line of greedy_test100.jsonl that is 'null' is a UsageError naming the line (TypeError)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-regression-'));
    writeFileSync(join(dir, 'greedy_test100.jsonl'), 'null\n');
    expect(() => readGreedyGolden(dir, ['a'])).toThrow(UsageError);
    expect(() => readGreedyGolden(dir, ['a'])).toThrow(/greedy_test100.jsonl line 1: "ids" must be a list of token ids/);
  });
});
