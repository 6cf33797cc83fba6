/**
 * The SentencePiece-style tokenizer of llama2.c (`tokenizer.bin`, `tok512.bin`):
 *   int32 max_token_length, then per token: float32 score, int32 byte length, the bytes.
 * Ids 0, 1, 2 are <unk>, BOS, EOS; ids 3..258 are the byte-fallback tokens '<0x00>'..'<0xFF>'.
 *
 * `encode` gives exactly what llama2.c's run.c `encode` gives:
 *   1. if the text is non-empty, start with the token for ' ' (SentencePiece's "dummy prefix");
 *   2. one token per UTF-8 character, or its bytes as byte-fallback tokens (id = byte + 3) when the
 *      character is not in the vocabulary;
 *   3. repeatedly merge the adjacent pair whose concatenated piece is in the vocabulary with the highest
 *      score (the leftmost such pair on ties), until no pair merges.
 * run.c rescans every pair after each merge (quadratic); here a heap of candidate pairs over a linked
 * list makes the same choices in O(n log n), so long training texts encode quickly.
 */

import { TokenizerError } from '../errors.ts';
import { asBytes, fetchBytes, readFileBytes } from '../io.ts';
import { checkTokenId, decodeTokens, type Tokenizer } from './tokenizer.ts';

const utf8 = new TextEncoder();
const BOS = 1;
const EOS = 2;
const FIRST_BYTE_TOKEN = 3;
/** run.c's starting best score: pairs scoring at or below it never merge. */
const MIN_MERGE_SCORE = Math.fround(-1e10);

/** Adjacent-token pairs whose merge result is remembered. */
const PAIR_CACHE_LIMIT = 1 << 20;

export interface Llama2cEncodeOptions {
  bos?: boolean;
  eos?: boolean;
}

/** A mergeable adjacent pair: nodes `left` and `right` (positions in the initial token list). */
interface Candidate {
  score: number;
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  merged: number;
}

export class Llama2cTokenizer implements Tokenizer {
  readonly bos = BOS;
  readonly eos = EOS;
  readonly vocabSize: number;
  /** Each token's bytes as a one-char-per-byte string, so pieces concatenate and key a Map as bytes do in C. */
  private readonly pieces: string[];
  private readonly lookup = new Map<string, number>();
  private readonly decodedBytes: Uint8Array[];
  private readonly pairs = new Map<number, number>();

  constructor(pieces: readonly Uint8Array[], readonly scores: Float32Array) {
    this.vocabSize = pieces.length;
    this.pieces = pieces.map(bytesToBinary);
    // A duplicated piece resolves to its first id (run.c's sorted binary search leaves this undefined).
    this.pieces.forEach((piece, id) => {
      if (!this.lookup.has(piece)) this.lookup.set(piece, id);
    });
    this.decodedBytes = pieces.map((bytes, id) => {
      if (id === BOS || id === EOS) return new Uint8Array(0);
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(this.pieces[id]!);
      return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : bytes;
    });
  }

  /** Encode like run.c: no BOS/EOS unless asked (run.c's generate asks for BOS). */
  encode(text: string, options: Llama2cEncodeOptions = {}): number[] {
    const tokens: number[] = [];
    if (text.length > 0) this.pushSymbol(tokens, ' ');
    for (const char of text) this.pushSymbol(tokens, char);
    const merged = this.merge(tokens);
    return [...(options.bos ? [BOS] : []), ...merged, ...(options.eos ? [EOS] : [])];
  }

  /**
   * Decode like run.c: the piece after BOS loses its leading space, '<0xNN>' tokens are raw bytes, and
   * the bytes are read as UTF-8 with replacement. BOS and EOS themselves add no text (their stored
   * pieces, '\n<s>\n' and '\n</s>\n', are markers of llama2.c's export).
   */
  decode(ids: readonly number[]): string {
    return decodeTokens(this, ids);
  }

  tokenBytes(id: number, previous?: number): Uint8Array {
    checkTokenId(id, this.vocabSize, 'llama2.c');
    const bytes = this.decodedBytes[id]!;
    return previous === BOS && bytes[0] === 0x20 && !this.isByteToken(id) ? bytes.subarray(1) : bytes;
  }

  /** The stored piece of `id` (bytes as a string, so UTF-8 pieces read as Latin-1). */
  piece(id: number): string {
    checkTokenId(id, this.vocabSize, 'llama2.c');
    return this.pieces[id]!;
  }

  private isByteToken(id: number): boolean {
    return this.decodedBytes[id]!.length === 1 && this.pieces[id]!.startsWith('<0x');
  }

  /** The token of one character, or its UTF-8 bytes as byte-fallback tokens. */
  private pushSymbol(tokens: number[], char: string): void {
    const id = this.lookup.get(char.length === 1 && char.charCodeAt(0) < 0x80 ? char : bytesToBinary(utf8.encode(char)));
    if (id !== undefined) tokens.push(id);
    else for (const byte of utf8.encode(char)) tokens.push(byte + FIRST_BYTE_TOKEN);
  }

  /** The token that pieces `left` + `right` concatenate to, if it may merge; else -1. Remembered per pair. */
  private pairMerge(left: number, right: number): number {
    const key = left * this.vocabSize + right;
    let merged = this.pairs.get(key);
    if (merged === undefined) {
      const id = this.lookup.get(this.pieces[left]! + this.pieces[right]!);
      merged = id !== undefined && this.scores[id]! > MIN_MERGE_SCORE ? id : -1;
      if (this.pairs.size >= PAIR_CACHE_LIMIT) this.pairs.clear();
      this.pairs.set(key, merged);
    }
    return merged;
  }

  private merge(initial: readonly number[]): number[] {
    const n = initial.length;
    const ids = Int32Array.from(initial);
    const next = new Int32Array(n).map((_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = new Int32Array(n).map((_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1);
    const heap = new CandidateHeap();
    const consider = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const merged = this.pairMerge(ids[left]!, ids[right]!);
      if (merged >= 0) heap.push({ score: this.scores[merged]!, left, right, leftId: ids[left]!, rightId: ids[right]!, merged });
    };
    for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
    for (let c = heap.pop(); c; c = heap.pop()) {
      // Skip candidates made stale by earlier merges: a side was merged away, or changed token.
      if (!alive[c.left] || !alive[c.right] || next[c.left] !== c.right || ids[c.left] !== c.leftId || ids[c.right] !== c.rightId) continue;
      ids[c.left] = c.merged;
      alive[c.right] = 0;
      next[c.left] = next[c.right]!;
      if (next[c.left]! >= 0) prev[next[c.left]!] = c.left;
      consider(prev[c.left]!, c.left);
      consider(c.left, next[c.left]!);
    }
    return Array.from(ids.filter((_, i) => alive[i] === 1));
  }
}

/** Binary max-heap on (score descending, left position ascending): run.c's choice of best pair. */
class CandidateHeap {
  private items: Candidate[] = [];

  push(item: Candidate): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      const swap = items[i]!;
      items[i] = items[parent]!;
      items[parent] = swap;
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && before(items[l]!, items[best]!)) best = l;
        if (r < items.length && before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        const swap = items[i]!;
        items[i] = items[best]!;
        items[best] = swap;
        i = best;
      }
    }
    return top;
  }
}

function before(a: Candidate, b: Candidate): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/**
 * Parse `tokenizer.bin`. The file stores no token count: pass the model's `vocabSize` to read that many
 * (extra bytes are ignored, as in run.c), or omit it to read tokens to the end of the file.
 */
export function parseLlama2cTokenizer(data: ArrayBuffer | ArrayBufferView, vocabSize?: number, source = '<buffer>'): Llama2cTokenizer {
  const bytes = asBytes(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (message: string) => new TokenizerError(`llama2.c tokenizer '${source}': ${message}`);
  if (bytes.byteLength < 4) throw fail('file is shorter than its 4-byte header (truncated?)');
  const maxTokenLength = view.getInt32(0, true);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let offset = 4;
  while (vocabSize === undefined ? offset < bytes.byteLength : pieces.length < vocabSize) {
    const id = pieces.length;
    if (offset + 8 > bytes.byteLength) throw fail(`truncated at token ${id}: no room for its score and length at byte ${offset} of ${bytes.byteLength}`);
    scores.push(view.getFloat32(offset, true));
    const length = view.getInt32(offset + 4, true);
    offset += 8;
    if (length < 0 || length > maxTokenLength) throw fail(`token ${id} has length ${length}, outside [0, max_token_length=${maxTokenLength}]`);
    if (offset + length > bytes.byteLength) throw fail(`truncated at token ${id}: its ${length} bytes run past the end of the file (${bytes.byteLength} bytes)`);
    pieces.push(bytes.slice(offset, offset + length));
    offset += length;
  }
  if (pieces.length < FIRST_BYTE_TOKEN + 256) throw fail(`only ${pieces.length} tokens; llama2.c tokenizers have <unk>, BOS, EOS and 256 byte tokens first`);
  return new Llama2cTokenizer(pieces, Float32Array.from(scores));
}

/** Node: read a llama2.c `tokenizer.bin` by path. */
export async function loadLlama2cTokenizer(path: string, vocabSize?: number): Promise<Llama2cTokenizer> {
  return parseLlama2cTokenizer(await readFileBytes(path), vocabSize, path);
}

/** Browser or Node: fetch a llama2.c `tokenizer.bin`. */
export async function fetchLlama2cTokenizer(url: string | URL, vocabSize?: number, init?: RequestInit): Promise<Llama2cTokenizer> {
  return parseLlama2cTokenizer(await fetchBytes(url, init), vocabSize, String(url));
}

function bytesToBinary(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
