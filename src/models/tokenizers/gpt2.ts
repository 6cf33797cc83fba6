/**
 * GPT-2's byte-level BPE tokenizer, token for token the same as OpenAI's encoder.py (and the npm
 * package gpt-3-encoder):
 *   1. split the text into chunks with the GPT-2 regex (contractions, letter runs, digit runs,
 *      punctuation runs, whitespace), each chunk optionally led by one space;
 *   2. write each chunk's UTF-8 bytes as printable characters (bytes → unicode: space → 'Ġ', ...), so
 *      that BPE works on strings with no raw spaces or control characters;
 *   3. merge adjacent symbols, lowest merge rank first, until no ranked pair is left; look up each symbol.
 * The text is never split on special tokens: '<|endoftext|>' in the input is encoded as plain text.
 */

import { jsonForMessage, TokenizerError } from '../errors.ts';
import { fetchText, readFileText } from '../io.ts';
import { checkTokenId, decodeTokens, type Tokenizer } from './tokenizer.ts';

const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's reversible byte → character table: printable Latin-1 bytes map to themselves, the other 68
 * bytes (controls, space, ...) to the characters U+0100 onwards, in byte order.
 */
function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

/** The symbol GPT-2 writes for each byte value (index = byte). */
export const GPT2_BYTE_SYMBOLS: readonly string[] = bytesToUnicode();
const CHAR_TO_BYTE = new Map(GPT2_BYTE_SYMBOLS.map((c, b) => [c, b]));
const utf8 = new TextEncoder();

/** Chunks whose BPE result is remembered; text repeats words a lot, so this is most of the speed. */
const CACHE_LIMIT = 100_000;

/** Token ids at or past this are a corrupt vocabulary (the largest real vocabularies hold about 256k tokens). */
const MAX_VOCAB = 1 << 22;

export interface Gpt2TokenizerOptions {
  /** Prepend a space to the text (Hugging Face ByteLevel `add_prefix_space`); GPT-2 does not. */
  addPrefixSpace?: boolean;
  /** Name of the end-of-text token, used as `eos` and `bos` when present. */
  endOfText?: string;
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos?: number;
  readonly eos?: number;
  private readonly ids: Map<string, number>;
  private readonly bytesById: Uint8Array[];
  /** "left right" → merge rank (tokens never contain a raw space, so the key is unambiguous). */
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly addPrefixSpace: boolean;

  /** `vocab`: token string (in the bytes → unicode alphabet) → id; `merges`: pairs in rank order. */
  constructor(vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>, merges: readonly (readonly [string, string])[], options: Gpt2TokenizerOptions = {}) {
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new TokenizerError('GPT-2 tokenizer: the vocabulary is not an object {"token": id, ...}');
    this.ids = vocab instanceof Map ? new Map(vocab) : new Map(Object.entries(vocab));
    // Check every id before sizing the id → bytes table by the largest: a file may claim any id.
    let maxId = -1;
    for (const [token, id] of this.ids) {
      if (!Number.isInteger(id) || id < 0 || id >= MAX_VOCAB) {
        throw new TokenizerError(`GPT-2 tokenizer: token ${jsonForMessage(token, 100)} has invalid id ${jsonForMessage(id, 100)} (ids are integers in [0, ${MAX_VOCAB}))`);
      }
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    this.bytesById = new Array(this.vocabSize).fill(new Uint8Array(0));
    for (const [token, id] of this.ids) this.bytesById[id] = tokenToBytes(token);
    this.ranks = new Map(merges.map(([a, b], rank) => [`${a} ${b}`, rank]));
    this.addPrefixSpace = options.addPrefixSpace ?? false;
    const endOfText = this.ids.get(options.endOfText ?? '<|endoftext|>');
    if (endOfText !== undefined) {
      this.bos = endOfText;
      this.eos = endOfText;
    }
  }

  /** From OpenAI's `encoder.json` and `vocab.bpe`, or Hugging Face's `vocab.json` and `merges.txt` (same formats). */
  static fromVocabAndMerges(vocabJson: string | Readonly<Record<string, number>>, mergesText: string, options?: Gpt2TokenizerOptions): Gpt2Tokenizer {
    const vocab = typeof vocabJson === 'string' ? (parseJson(vocabJson, 'vocab/encoder JSON') as Record<string, number>) : vocabJson;
    return new Gpt2Tokenizer(vocab, parseMerges(mergesText), options);
  }

  /** From a Hugging Face `tokenizer.json` with a byte-level BPE model (GPT-2, GPT-Neo, Pythia, ...). */
  static fromTokenizerJson(json: string | object): Gpt2Tokenizer {
    const fail = (message: string) => new TokenizerError(`tokenizer.json: ${message}`);
    const root = (typeof json === 'string' ? parseJson(json, 'tokenizer.json') : json) as HfTokenizerJson;
    if (!isObject(root)) throw fail('not a JSON object');
    const model = root.model;
    if (!isObject(model) || (model.type !== undefined && model.type !== 'BPE')) throw fail(`model type ${jsonForMessage(isObject(model) ? model.type : model)} is not BPE`);
    if (!isObject(model.vocab) || !Array.isArray(model.merges)) throw fail('model has no vocab object or no merges list');
    const byteLevel = findByteLevel(root.pre_tokenizer);
    if (!byteLevel) throw fail(`pre_tokenizer ${jsonForMessage(isObject(root.pre_tokenizer) ? root.pre_tokenizer.type : root.pre_tokenizer)} is not ByteLevel: only GPT-2-style byte-level BPE is supported`);
    if (byteLevel.use_regex === false) throw fail('ByteLevel pre_tokenizer with use_regex=false is not supported');
    const merges = model.merges.map((merge, rank): [string, string] => {
      const pair = typeof merge === 'string' ? merge.split(' ') : merge;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw fail(`merge ${rank} ${jsonForMessage(merge)} is not a pair of strings`);
      return [pair[0], pair[1]];
    });
    const vocab = new Map(Object.entries(model.vocab));
    const added = root.added_tokens ?? [];
    if (!Array.isArray(added)) throw fail('added_tokens is not a list');
    for (const [i, token] of added.entries()) {
      if (!isObject(token) || typeof token.content !== 'string') throw fail(`added_tokens[${i}] has no "content" string`);
      vocab.set(token.content, token.id);
    }
    return new Gpt2Tokenizer(vocab, merges, { addPrefixSpace: byteLevel.add_prefix_space ?? false });
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    const input = this.addPrefixSpace && text.length > 0 && !text.startsWith(' ') ? ` ${text}` : text;
    for (const [chunk] of input.matchAll(GPT2_PATTERN)) {
      for (const id of this.encodeChunk(chunk)) ids.push(id);
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    return decodeTokens(this, ids);
  }

  tokenBytes(id: number): Uint8Array {
    checkTokenId(id, this.vocabSize, 'GPT-2');
    return this.bytesById[id]!;
  }

  private encodeChunk(chunk: string): number[] {
    const cached = this.cache.get(chunk);
    if (cached) return cached;
    let word = Array.from(utf8.encode(chunk), (b) => GPT2_BYTE_SYMBOLS[b]!);
    while (word.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = `${word[i]} ${word[i + 1]}`;
        }
      }
      if (best === undefined) break;
      const [first, second] = best.split(' ') as [string, string];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]!);
        }
      }
      word = merged;
    }
    const ids = word.map((symbol) => {
      const id = this.ids.get(symbol);
      if (id === undefined) throw new TokenizerError(`GPT-2 tokenizer: symbol ${JSON.stringify(symbol)} from chunk ${JSON.stringify(chunk)} is not in the vocabulary`);
      return id;
    });
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(chunk, ids);
    return ids;
  }
}

/** Node: load from a folder holding `tokenizer.json`, or `encoder.json` + `vocab.bpe`, or `vocab.json` + `merges.txt`. */
export async function loadGpt2Tokenizer(folder: string): Promise<Gpt2Tokenizer> {
  const path = (name: string) => `${folder.replace(/[\\/]+$/, '')}/${name}`;
  const tryRead = async (name: string) => readFileText(path(name)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  const tokenizerJson = await tryRead('tokenizer.json');
  if (tokenizerJson !== undefined) return Gpt2Tokenizer.fromTokenizerJson(tokenizerJson);
  for (const [vocabName, mergesName] of [['encoder.json', 'vocab.bpe'], ['vocab.json', 'merges.txt']] as const) {
    const vocab = await tryRead(vocabName);
    const merges = await tryRead(mergesName);
    if (vocab !== undefined && merges !== undefined) return Gpt2Tokenizer.fromVocabAndMerges(vocab, merges);
  }
  throw new TokenizerError(`GPT-2 tokenizer: '${folder}' holds none of tokenizer.json, encoder.json + vocab.bpe, vocab.json + merges.txt`);
}

/** Browser or Node: fetch either a `tokenizer.json`, or a vocab (`encoder.json` / `vocab.json`) and merges (`vocab.bpe` / `merges.txt`) pair. */
export async function fetchGpt2Tokenizer(urls: { tokenizerJson: string | URL } | { vocab: string | URL; merges: string | URL }): Promise<Gpt2Tokenizer> {
  if ('tokenizerJson' in urls) return Gpt2Tokenizer.fromTokenizerJson(await fetchText(urls.tokenizerJson));
  const [vocab, merges] = await Promise.all([fetchText(urls.vocab), fetchText(urls.merges)]);
  return Gpt2Tokenizer.fromVocabAndMerges(vocab, merges);
}

interface HfPreTokenizer {
  type?: string;
  add_prefix_space?: boolean;
  use_regex?: boolean;
  pretokenizers?: HfPreTokenizer[];
}

interface HfTokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | string[])[] };
  pre_tokenizer?: HfPreTokenizer | null;
  added_tokens?: { id: number; content: string }[];
}

function findByteLevel(pre: HfPreTokenizer | null | undefined): HfPreTokenizer | undefined {
  if (!isObject(pre)) return undefined;
  if (pre.type === 'ByteLevel') return pre;
  if (pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 1) return findByteLevel(pre.pretokenizers[0]);
  return undefined;
}

function isObject<T>(value: T | null | undefined | unknown): value is T & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


/** `vocab.bpe` / `merges.txt`: an optional '#version' line, then one "left right" pair per line. */
function parseMerges(text: string): [string, string][] {
  const lines = text.split('\n');
  const first = lines[0]?.startsWith('#version') ? 1 : 0;
  const merges: [string, string][] = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const space = line.indexOf(' ');
    if (space <= 0 || line.indexOf(' ', space + 1) !== -1) throw new TokenizerError(`GPT-2 merges: line ${i + 1} ${JSON.stringify(lines[i])} is not a pair`);
    merges.push([line.slice(0, space), line.slice(space + 1)]);
  }
  return merges;
}

/** A token string back to bytes; characters outside the byte alphabet (added special tokens) as UTF-8. */
function tokenToBytes(token: string): Uint8Array {
  const bytes = new Uint8Array(token.length * 3);
  let length = 0;
  for (const char of token) {
    const byte = CHAR_TO_BYTE.get(char);
    if (byte !== undefined) bytes[length++] = byte;
    else length += utf8.encodeInto(char, bytes.subarray(length)).written;
  }
  return bytes.slice(0, length);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`${what}: not valid JSON (${(error as Error).message})`);
  }
}
