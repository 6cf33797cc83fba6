import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as referenceDecode, encode as referenceEncode } from 'gpt-3-encoder';
import { beforeAll, describe, expect, test } from 'vitest';
import { TokenizerError } from '../src/models/errors.ts';
import { GPT2_BYTE_SYMBOLS, Gpt2Tokenizer, loadGpt2Tokenizer } from '../src/models/tokenizers/gpt2.ts';
import { Llama2cTokenizer, loadLlama2cTokenizer, parseLlama2cTokenizer } from '../src/models/tokenizers/llama2c.ts';
import { StreamingDecoder, type Tokenizer } from '../src/models/tokenizers/tokenizer.ts';
import fixture from './fixtures/llama2c-tok512-encode.json';
import { dataPath, hasData } from './util/data.ts';
import { Rng } from './util/rng.ts';

/** `text` with lone surrogates replaced by U+FFFD, as a UTF-8 round trip gives. */
function wellFormed(text: string): string {
  return new TextDecoder().decode(new TextEncoder().encode(text));
}

/** Decode one id at a time; the chunks must join to the one-shot decode. */
function streamed(tokenizer: Tokenizer, ids: number[]): string[] {
  const decoder = new StreamingDecoder(tokenizer);
  return [...ids.map((id) => decoder.push(id)), decoder.flush()];
}

const TEXTS = [
  '', ' ', '  ', 'a', 'hello world', 'Hello, World!', 'multiple   spaces   here', 'trailing spaces   ', '   leading spaces',
  'tabs\tand\t\ttabs', 'new\nlines\n\n\nand\r\nCRLF\r\n', ' \n \t \n', 'numbers 0 12 345 6789 3.14159 1,000,000 -42 1e10',
  'punctuation!!! ... ??? ;:,. "quoted" \'single\' (parens) [brackets] {braces} <angle> @#$%^&*_+=~`|\\/',
  "contractions: don't can't won't I'm you're we've they'll she'd it's", "DON'T SHOUT'S", "'s 't 're 've 'm 'll 'd",
  'accents: héllo wörld café naïve Ångström façade señor', 'combining: e\u0301 a\u0308', 'Ελληνικά Русский עברית العربية हिन्दी',
  'CJK: 日本語のテキスト 中文字符 한국어', 'emoji: 😀 👍🏽 🇫🇷 👨‍👩‍👧‍👦 ❤️', 'mixed: abc日本😀é1２３', 'full-width: ＡＢＣ１２３',
  'nbsp\u00a0and\u2009thin\u3000ideographic', 'zero\u200bwidth\ufeffbom', 'lone surrogate \ud800 here', 'control \u0001\u0007\u001b chars',
  '<|endoftext|> is plain text here', 'https://example.com/path?query=1&x=y#frag', 'snake_case camelCase kebab-case SCREAMING_CASE',
  'x'.repeat(300), 'ab'.repeat(200), '    def f(x):\n        return x ** 2\n',
];

/** Random strings over an alphabet chosen to hit every branch of the GPT-2 regex. */
function fuzzTexts(count: number, seed: number): string[] {
  const alphabet = [
    ' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', "'", "'s", "'ll", "'t", 'a', 'e', 'the', 'The', 'ing', 'Z', 'q', '0', '7', '42',
    '.', ',', '!', '?', '-', '_', '(', ')', '"', '#', 'é', 'ß', 'Ж', 'ж', 'λ', '日', '本', '😀', '🏽', '\u200d', '\u0301', '²', '½', '€', '\u3000',
  ];
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const n = Math.floor(rng.next() * 30);
    return Array.from({ length: n }, () => alphabet[Math.floor(rng.next() * alphabet.length)]).join('');
  });
}

describe('GPT-2 tokenizer: small vocabulary (no shared data)', () => {
  // All 256 byte symbols plus a few merges.
  const vocab = new Map(GPT2_BYTE_SYMBOLS.map((s, i) => [s, i]));
  vocab.set('ll', 256).set('he', 257).set('hell', 258).set('hello', 259).set('Ġhello', 260).set('<|endoftext|>', 261);
  const tokenizer = new Gpt2Tokenizer(vocab, [['l', 'l'], ['h', 'e'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'hello']]);

  test('merges by rank, space as Ġ, end-of-text', () => {
    expect(tokenizer.encode('hello')).toEqual([259]);
    expect(tokenizer.encode('hello hello')).toEqual([259, 260]);
    expect(tokenizer.encode('help')).toEqual([257, 108, 112]);
    expect(tokenizer.encode('\n')).toEqual([10]);
    expect(tokenizer.decode([259, 260, 10])).toBe('hello hello\n');
    expect(tokenizer.vocabSize).toBe(262);
    expect(tokenizer.eos).toBe(261);
    expect(tokenizer.decode([261])).toBe('<|endoftext|>');
  });

  test('bad ids and bad files', () => {
    expect(() => tokenizer.decode([262])).toThrow('GPT-2 tokenizer: token id 262 is not in the vocabulary [0, 262)');
    expect(() => tokenizer.decode([-1])).toThrow(TokenizerError);
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('{"a": ', '')).toThrow(/vocab\/encoder JSON: not valid JSON/);
    expect(() => Gpt2Tokenizer.fromVocabAndMerges('{"a": 0}', '#version: 0.2\na b c\n')).toThrow(/merges: line .* is not a pair/);
    expect(() => Gpt2Tokenizer.fromTokenizerJson({ model: { type: 'WordPiece' } })).toThrow("tokenizer.json: model type \"WordPiece\" is not BPE");
    expect(() => Gpt2Tokenizer.fromTokenizerJson({ model: { type: 'BPE', vocab: {}, merges: [] }, pre_tokenizer: { type: 'Metaspace' } })).toThrow(
      /pre_tokenizer "Metaspace" is not ByteLevel/,
    );
    // A symbol the vocabulary lacks (no byte tokens here) is reported with its chunk.
    expect(() => new Gpt2Tokenizer({ a: 0 }, []).encode('ab')).toThrow('GPT-2 tokenizer: symbol "b" from chunk "ab" is not in the vocabulary');
  });
});

describe.skipIf(!hasData('gpt2-tokenizer/encoder.json', 'gpt2-tokenizer/vocab.bpe'))('GPT-2 tokenizer vs gpt-3-encoder', () => {
  const folder = dataPath('gpt2-tokenizer');
  let tokenizer: Gpt2Tokenizer;
  let encoderJson: string;
  let vocabBpe: string;
  beforeAll(async () => {
    tokenizer = await loadGpt2Tokenizer(folder);
    encoderJson = readFileSync(join(folder, 'encoder.json'), 'utf8');
    vocabBpe = readFileSync(join(folder, 'vocab.bpe'), 'utf8');
  });

  test('vocabulary and special token', () => {
    expect(tokenizer.vocabSize).toBe(50257);
    expect(tokenizer.eos).toBe(50256);
    expect(tokenizer.bos).toBe(50256);
  });

  test.each(TEXTS.map((t) => [JSON.stringify(t).slice(0, 60), t]))('encode/decode %s', (_, text) => {
    const ids = tokenizer.encode(text);
    expect(ids).toEqual(referenceEncode(text));
    expect(tokenizer.decode(ids)).toBe(referenceDecode(ids));
    expect(tokenizer.decode(ids)).toBe(wellFormed(text));
  });

  test('hand-checked ids', () => {
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(tokenizer.encode(' the')).toEqual([262]);
    expect(tokenizer.encode('<|endoftext|>')).toEqual([27, 91, 437, 1659, 5239, 91, 29]);
  });

  test('300 random strings', () => {
    for (const text of fuzzTexts(300, 1234)) expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(referenceEncode(text));
  });

  test.skipIf(!hasData('tinyshakespeare/input.txt'))('20,000 characters of Shakespeare', () => {
    const text = readFileSync(dataPath('tinyshakespeare/input.txt'), 'utf8').slice(100_000, 120_000);
    const ids = tokenizer.encode(text);
    expect(ids).toEqual(referenceEncode(text));
    expect(tokenizer.decode(ids)).toBe(text);
  });

  test('partial UTF-8 decodes with replacement, like the reference', () => {
    const ids = tokenizer.encode('😀👍🏽日本');
    expect(ids.length).toBeGreaterThan(4); // emoji span several byte tokens
    for (let i = 0; i <= ids.length; i++) {
      expect(tokenizer.decode(ids.slice(0, i))).toBe(referenceDecode(ids.slice(0, i)));
      expect(tokenizer.decode(ids.slice(i))).toBe(referenceDecode(ids.slice(i)));
    }
  });

  test('streaming decoder never splits a character', () => {
    for (const text of [...TEXTS, ...fuzzTexts(50, 99)]) {
      const ids = tokenizer.encode(text);
      const chunks = streamed(tokenizer, ids);
      expect(chunks.join('')).toBe(tokenizer.decode(ids));
      if (wellFormed(text) === text) expect(chunks.some((c) => c.includes('\ufffd')), JSON.stringify(text)).toBe(false);
    }
    // An unfinished character at the end of the stream is flushed as U+FFFD.
    const ids = tokenizer.encode('😀');
    expect(streamed(tokenizer, ids.slice(0, -1)).join('')).toBe('\ufffd');
  });

  test('same tokenizer from vocab.json + merges.txt and from tokenizer.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-gpt2-'));
    try {
      copyFileSync(join(folder, 'encoder.json'), join(dir, 'vocab.json'));
      copyFileSync(join(folder, 'vocab.bpe'), join(dir, 'merges.txt'));
      const fromHfFiles = await loadGpt2Tokenizer(dir);
      const mergeLines = vocabBpe.split('\n').slice(1).filter((l) => l.length > 0);
      const encoder = JSON.parse(encoderJson) as Record<string, number>;
      const { '<|endoftext|>': _, ...vocabWithoutSpecial } = encoder;
      const tokenizerJson = (merges: unknown[]) => ({
        version: '1.0',
        added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        decoder: { type: 'ByteLevel' },
        model: { type: 'BPE', dropout: null, unk_token: null, vocab: vocabWithoutSpecial, merges },
      });
      const fromStringMerges = Gpt2Tokenizer.fromTokenizerJson(JSON.stringify(tokenizerJson(mergeLines)));
      const fromPairMerges = Gpt2Tokenizer.fromTokenizerJson(tokenizerJson(mergeLines.map((l) => l.split(' '))));
      for (const other of [fromHfFiles, fromStringMerges, fromPairMerges, Gpt2Tokenizer.fromVocabAndMerges(encoderJson, vocabBpe)]) {
        expect(other.vocabSize).toBe(50257);
        expect(other.eos).toBe(50256);
        for (const text of TEXTS) expect(other.encode(text)).toEqual(tokenizer.encode(text));
        expect(other.decode([50256, 15496])).toBe('<|endoftext|>Hello');
      }
      const withPrefixSpace = Gpt2Tokenizer.fromTokenizerJson({ ...tokenizerJson(mergeLines), pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } });
      expect(withPrefixSpace.encode('Hello world')).toEqual(tokenizer.encode(' Hello world'));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe.skipIf(!hasData('stories260K/tok512.bin'))('llama2.c tokenizer (stories260K tok512.bin)', () => {
  let tokenizer: Llama2cTokenizer;
  beforeAll(async () => {
    tokenizer = await loadLlama2cTokenizer(dataPath('stories260K/tok512.bin'), 512);
  });

  test('vocabulary', () => {
    expect(tokenizer.vocabSize).toBe(512);
    expect([tokenizer.bos, tokenizer.eos]).toEqual([1, 2]);
    expect(tokenizer.piece(3)).toBe('<0x00>');
    expect(tokenizer.piece(258)).toBe('<0xFF>');
    expect(tokenizer.piece(410)).toBe(' ');
  });

  test.each(fixture.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c.text, c.ids]))('matches run.c encode: %s', (_, text, ids) => {
    expect(tokenizer.encode(text as string)).toEqual(ids);
  });

  test('hand-checked encodings', () => {
    const ids = tokenizer.encode('Once upon a time');
    expect(ids.map((id) => tokenizer.piece(id))).toEqual([' Once', ' upon', ' a', ' time']);
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.encode('', { bos: true, eos: true })).toEqual([1, 2]);
    expect(tokenizer.encode('Once', { bos: true })).toEqual([1, ids[0]]);
    expect(tokenizer.encode('Once', { eos: true })).toEqual([ids[0], 2]);
    // '日' is not in this 512-token vocabulary: the dummy-prefix space, then its three UTF-8 bytes + 3.
    expect(tokenizer.encode('日')).toEqual([410, 0xe6 + 3, 0x97 + 3, 0xa5 + 3]);
  });

  test('decode: leading space stripped after BOS, byte tokens as raw bytes, BOS/EOS silent', () => {
    const ids = tokenizer.encode('Once upon a time');
    expect(tokenizer.decode(ids)).toBe(' Once upon a time');
    expect(tokenizer.decode([1, ...ids, 2])).toBe('Once upon a time');
    expect(tokenizer.decode([1, 410, 0xe6 + 3, 0x97 + 3, 0xa5 + 3])).toBe('日');
    expect(tokenizer.decode([1, 0x20 + 3, 0x41 + 3])).toBe(' A'); // '<0x20>' is a byte, not a piece with a leading space
    expect(tokenizer.decode([0xe6 + 3, 0x97 + 3])).toBe('\ufffd'); // unfinished character
    expect(() => tokenizer.decode([512])).toThrow('llama2.c tokenizer: token id 512 is not in the vocabulary [0, 512)');
  });

  test('round trips and streaming', () => {
    for (const text of [...fixture.cases.map((c) => c.text), ...fuzzTexts(200, 5)]) {
      if (text === '') continue;
      const ids = tokenizer.encode(text, { bos: true });
      const expected = wellFormed(text);
      expect(tokenizer.decode(ids), JSON.stringify(text)).toBe(expected);
      const chunks = streamed(tokenizer, ids);
      expect(chunks.join('')).toBe(expected);
      if (wellFormed(text) === text) expect(chunks.some((c) => c.includes('\ufffd'))).toBe(false);
    }
  });

  test.skipIf(!hasData('tinyshakespeare/input.txt'))('long text round trip (heap merge)', () => {
    const text = readFileSync(dataPath('tinyshakespeare/input.txt'), 'utf8').slice(0, 200_000);
    const ids = tokenizer.encode(text, { bos: true });
    expect(ids.length).toBeLessThan(text.length);
    expect(tokenizer.decode(ids)).toBe(text);
  });

  test('file errors', () => {
    const bytes = new Uint8Array(readFileSync(dataPath('stories260K/tok512.bin')));
    expect(() => parseLlama2cTokenizer(bytes, 600, 'tok.bin')).toThrow(/llama2\.c tokenizer 'tok\.bin': truncated at token 512/);
    expect(() => parseLlama2cTokenizer(bytes.subarray(0, 3000), undefined, 'cut.bin')).toThrow(/'cut\.bin': truncated at token \d+/);
    expect(parseLlama2cTokenizer(bytes).vocabSize).toBe(512);
    expect(() => parseLlama2cTokenizer(bytes, 100)).toThrow(/only 100 tokens/);
  });
});
