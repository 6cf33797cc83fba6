/**
 * SentencePiece and Marian tokenizers against Debian's python3-sentencepiece 0.1.97 (fixtures made by
 * tools/reference/sentencepiece_cases.py: four models trained on Multi30k, a Marian folder), in Node
 * and, unless TESSERA_SKIP_BROWSER=1, in headless Chromium.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TokenizerError } from '../src/models/errors.ts';
import { MarianTokenizer } from '../src/models/tokenizers/marian.ts';
import { parseModelProto, PieceType, SentencePieceTokenizer } from '../src/models/tokenizers/sentencepiece.ts';
import { browserAvailability, openBrowserPage, type BrowserPage } from './util/browser.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'sentencepiece');

interface ModelCases {
  vocab_size: number;
  encode: { ids: number[]; pieces: string[]; decoded: string }[];
  decode_ids: { ids: number[]; text: string }[];
  decode_pieces: { pieces: string[]; text: string }[];
}
const cases = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { texts: string[]; models: Record<string, ModelCases> };

function modelBytes(name: string): Uint8Array {
  const path = join(FIXTURES, name === 'unigram-nfkc' ? `${name}.model.gz` : `${name}.model`);
  const bytes = readFileSync(path);
  return new Uint8Array(path.endsWith('.gz') ? gunzipSync(bytes) : bytes);
}

/** Every encode case, as one comparable list, so a failure shows all mismatches at once. */
function mismatches(tokenizer: SentencePieceTokenizer, model: ModelCases, skip: (text: string) => boolean = () => false) {
  const bad: unknown[] = [];
  cases.texts.forEach((text, i) => {
    if (skip(text)) return;
    const expected = model.encode[i]!;
    const pieces = tokenizer.encodePieces(text);
    const ids = tokenizer.encode(text);
    const decoded = tokenizer.decode(expected.ids);
    if (JSON.stringify(pieces) !== JSON.stringify(expected.pieces) || JSON.stringify(ids) !== JSON.stringify(expected.ids) || decoded !== expected.decoded) {
      bad.push({ text, pieces, expected: expected.pieces, ids, expectedIds: expected.ids, decoded, expectedDecoded: expected.decoded });
    }
  });
  return bad;
}

describe.each(Object.keys(cases.models))('SentencePiece %s (.model) matches the library', (name) => {
  const model = cases.models[name]!;
  const tokenizer = SentencePieceTokenizer.fromModelProto(modelBytes(name), name);

  test(`encodes ${cases.texts.length} texts to the same pieces and ids, and decodes them back the same`, () => {
    expect(tokenizer.vocabSize).toBe(model.vocab_size);
    expect(mismatches(tokenizer, model)).toEqual([]);
  });

  test('decodes random ids and hand-picked piece lists (byte pieces, controls, <unk>) the same', () => {
    for (const c of model.decode_ids) expect(tokenizer.decode(c.ids), JSON.stringify(c.ids)).toBe(c.text);
    for (const c of model.decode_pieces) expect(tokenizer.decodePieces(c.pieces), JSON.stringify(c.pieces)).toBe(c.text);
  });
});

describe.each(['unigram-bytes', 'bpe'])('SentencePiece %s (Hugging Face tokenizer.json)', (name) => {
  const model = cases.models[name]!;
  const json = JSON.parse(readFileSync(join(FIXTURES, `${name}.tokenizer.json`), 'utf8')) as unknown;
  const tokenizer = SentencePieceTokenizer.fromTokenizerJson(json, `${name}.tokenizer.json`);
  const fromProto = SentencePieceTokenizer.fromModelProto(modelBytes(name), name);

  test('encodes like the .model, except where tokenizers itself differs from SentencePiece', () => {
    // tokenizers splits added tokens (<s>, </s>, <unk>, user-defined <sep>) out of the text first and
    // Metaspace ('always') puts '▁' before each remaining part; a literal '▁' counts as a space.
    const added = ['<s>', '</s>', '<unk>', '<sep>', '\u2581'];
    expect(mismatches(tokenizer, model, (text) => added.some((c) => text.includes(c)))).toEqual([]);
    expect(tokenizer.encodePieces('a </s>b')).toEqual(['▁a', '</s>', '▁b']);
    expect(tokenizer.encode('a </s>b')).toEqual([...tokenizer.encode('a'), fromProto.eosId, ...tokenizer.encode('b')]);
    expect(tokenizer.encodePieces('\u2581 the dog')).toEqual(['▁', ...tokenizer.encodePieces('the dog')]);
    // Control tokens decode to nothing, as in SentencePiece (HF's skip_special_tokens).
    expect(tokenizer.decode(tokenizer.encode('a </s>b'))).toBe('a b');
  });

  test('has the same vocabulary and special ids', () => {
    expect(tokenizer.vocabSize).toBe(fromProto.vocabSize);
    expect(tokenizer.unkId).toBe(fromProto.unkId);
    expect([tokenizer.bosId, tokenizer.eosId]).toEqual([fromProto.bosId, fromProto.eosId]);
    for (let id = 0; id < tokenizer.vocabSize; id++) expect(tokenizer.idToPiece(id)).toBe(fromProto.idToPiece(id));
  });
});

describe('SentencePiece model file details', () => {
  const nfkc = SentencePieceTokenizer.fromModelProto(modelBytes('unigram-nfkc'), 'unigram-nfkc');

  test('reads piece types, scores and special ids from the proto', () => {
    const parsed = parseModelProto(modelBytes('unigram-nfkc'));
    expect(parsed.modelType).toBe('unigram');
    expect(parsed.normalizer.name).toBe('nmt_nfkc');
    expect(parsed.normalizer.precompiledCharsmap.length).toBeGreaterThan(100_000);
    expect([nfkc.unkId, nfkc.bosId, nfkc.eosId, nfkc.padId]).toEqual([0, 1, 2, 3]);
    expect(nfkc.pieceType(0)).toBe(PieceType.UNKNOWN);
    expect(nfkc.pieceType(3)).toBe(PieceType.CONTROL);
    expect(nfkc.pieceType(nfkc.pieceToId('<sep>')!)).toBe(PieceType.USER_DEFINED);
    expect(nfkc.pieceType(nfkc.pieceToId('<ctrl>')!)).toBe(PieceType.CONTROL);
    expect(nfkc.pieceToId('no such piece')).toBeUndefined();
    expect(nfkc.pieceScore(nfkc.pieceToId('▁a')!)).toBeLessThan(0);
    const bpe = SentencePieceTokenizer.fromModelProto(modelBytes('bpe'));
    expect([bpe.modelType, bpe.byteFallback]).toEqual(['bpe', true]);
    expect(bpe.pieceType(bpe.pieceToId('<0xE6>')!)).toBe(PieceType.BYTE);
  });

  test('bad files and ids fail with errors that say what is wrong', () => {
    expect(() => SentencePieceTokenizer.fromModelProto(new Uint8Array(0), 'empty.model')).toThrow("SentencePiece model 'empty.model': no pieces");
    expect(() => SentencePieceTokenizer.fromModelProto(Uint8Array.of(0x0a, 0x05, 0x0a), 'cut.model')).toThrow(/cut\.model.*runs past the end/);
    expect(() => SentencePieceTokenizer.fromModelProto(new TextEncoder().encode('{"model": 1}'), 'x.json')).toThrow(TokenizerError);
    const truncated = modelBytes('bpe').subarray(0, 5000);
    expect(() => SentencePieceTokenizer.fromModelProto(truncated, 'bpe.model')).toThrow(/bpe\.model/);
    expect(() => nfkc.decode([nfkc.vocabSize])).toThrow(`token id ${nfkc.vocabSize} is not in the vocabulary [0, ${nfkc.vocabSize})`);
    expect(() => nfkc.decode([1.5])).toThrow(TokenizerError);
    expect(() => SentencePieceTokenizer.fromTokenizerJson({ model: { type: 'WordPiece' } })).toThrow('model type "WordPiece" is not Unigram or BPE');
    expect(() => SentencePieceTokenizer.fromTokenizerJson({ model: { type: 'Unigram', vocab: [['<unk>', 0]], unk_id: 0 }, pre_tokenizer: { type: 'ByteLevel' } })).toThrow(
      'pre_tokenizer "ByteLevel" is not Metaspace',
    );
    expect(() => SentencePieceTokenizer.fromTokenizerJson({ model: { type: 'Unigram', vocab: [['a', 0]] }, pre_tokenizer: { type: 'Metaspace' } })).toThrow(
      'names no <unk> token',
    );
  });

  test('a long text (1,200 sentences) encodes as its sentences do one after another: pieces never cross a space', () => {
    const sentences = cases.texts.slice(0, 60);
    for (const tokenizer of [nfkc, SentencePieceTokenizer.fromModelProto(modelBytes('bpe'))]) {
      const long = Array.from({ length: 20 }, () => sentences.join(' ')).join(' ');
      const expected = Array.from({ length: 20 }, () => sentences.flatMap((s) => tokenizer.encode(s))).flat();
      expect(tokenizer.encode(long)).toEqual(expected);
    }
  });
});

interface MarianCases {
  dropped: string[];
  encode: { text: string; tokens: string[]; ids: number[] }[];
  decode: { ids: number[]; skip: string; keep: string }[];
}
const marianCases = JSON.parse(readFileSync(join(FIXTURES, 'marian-cases.json'), 'utf8')) as MarianCases;

describe('MarianTokenizer matches Hugging Face', () => {
  test('encodes: source pieces → vocab.json ids (<unk> for pieces it lacks), language codes, special tokens, </s>', async () => {
    const tokenizer = await MarianTokenizer.fromDirectory(join(FIXTURES, 'marian'));
    for (const c of marianCases.encode) {
      expect(tokenizer.tokenize(c.text), c.text).toEqual(c.tokens);
      expect(tokenizer.encode(c.text), c.text).toEqual(c.ids);
    }
    expect(tokenizer.eosId).toBe(0);
    expect(tokenizer.unkId).toBe(1);
    expect(tokenizer.padId).toBe(tokenizer.vocabSize - 1);
  });

  test('decodes with the target model, with and without special tokens', async () => {
    const tokenizer = await MarianTokenizer.fromDirectory(join(FIXTURES, 'marian'));
    for (const c of marianCases.decode) {
      expect(tokenizer.decode(c.ids), JSON.stringify(c.ids)).toBe(c.skip);
      expect(tokenizer.decode(c.ids, { skipSpecialTokens: false }), JSON.stringify(c.ids)).toBe(c.keep);
    }
  });

  test('loads from buffers (the browser path) and reports bad folders clearly', async () => {
    const dir = join(FIXTURES, 'marian');
    const tokenizer = MarianTokenizer.fromBuffers({
      sourceSpm: readFileSync(join(dir, 'source.spm')),
      targetSpm: readFileSync(join(dir, 'target.spm')),
      vocab: readFileSync(join(dir, 'vocab.json'), 'utf8'),
    });
    expect(tokenizer.encode(marianCases.encode[0]!.text)).toEqual(marianCases.encode[0]!.ids);
    await expect(MarianTokenizer.fromDirectory(join(FIXTURES, 'no-such-folder'))).rejects.toThrow(/no-such-folder.*source\.spm/);
    expect(() => MarianTokenizer.fromBuffers({ sourceSpm: readFileSync(join(dir, 'source.spm')), targetSpm: readFileSync(join(dir, 'target.spm')), vocab: '{"a": 0}' })).toThrow(
      'vocab.json has no "<unk>"',
    );
  });
});

const browser = browserAvailability();
describe.skipIf(browser.skip !== null)('SentencePiece and Marian in headless Chromium give the same results', () => {
  let page: BrowserPage;
  beforeAll(async () => {
    if (browser.missing) throw new Error(browser.missing);
    page = await openBrowserPage({ entry: 'test/browser/sentencepiece.page.ts', title: 'Tessera SentencePiece', routes: { '/sp/': FIXTURES } });
  }, 120_000);
  afterAll(async () => page?.close());

  test.each(['unigram-nfkc', 'bpe'])('%s', async (name) => {
    const url = `/sp/${name}${name === 'unigram-nfkc' ? '.model.gz' : '.model'}`;
    const results = await page.call<{ ids: number[]; pieces: string[]; decoded: string }[]>('encodeAll', url, cases.texts);
    expect(results).toEqual(cases.models[name]!.encode);
  });

  test('Marian folder over HTTP', async () => {
    const { encoded, decoded } = await page.call<{ encoded: number[][]; decoded: string[] }>(
      'marian',
      '/sp/marian/',
      marianCases.encode.map((c) => c.text),
      marianCases.decode.map((c) => c.ids),
    );
    expect(encoded).toEqual(marianCases.encode.map((c) => c.ids));
    expect(decoded).toEqual(marianCases.decode.map((c) => c.skip));
  });
});
