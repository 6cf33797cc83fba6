/**
 * SentencePiece in TypeScript: the tokenizer of T5, Marian/OPUS-MT, Llama and many others, giving the
 * same pieces and ids as Google's library (checked against python3-sentencepiece 0.1.97).
 *
 * A model is a `ModelProto` (the `.model` / `.spm` file): a list of pieces, each with a score and a type,
 * plus the trainer's and the normalizer's settings. Encoding a text is:
 *   1. normalize (sentencepiece-normalizer.ts): NFKC-like rules from the precompiled charsmap,
 *      whitespace cleaned up, a leading space added, every space written as '▁';
 *   2. segment the normalized text into pieces:
 *      - unigram: the segmentation with the highest total score (a Viterbi pass over every piece that
 *        matches at every position); a character no piece covers becomes <unk>;
 *      - BPE: start from single characters and repeatedly merge the adjacent pair whose concatenation is
 *        the highest-scoring piece (the leftmost on ties);
 *   3. unknown pieces either become the UTF-8 bytes '<0xNN>' (byte fallback) or, next to each other,
 *      one <unk>.
 * Decoding joins the pieces, turns '▁' back into spaces, drops the leading one, and reassembles
 * byte pieces into characters.
 *
 * `fromTokenizerJson` runs the same segmenters behind a Hugging Face `tokenizer.json` front end
 * (added tokens, the normalizer sequence, the Metaspace pre-tokenizer), as `tokenizers` does.
 */

import { TokenizerError, jsonForMessage } from '../errors.ts';
import { protoBytes, protoFloat, protoInt, protoString, readProtoFields } from './protobuf.ts';
import { DEFAULT_NORMALIZER_SPEC, type NormalizerSpec, PrecompiledCharsMap, SentencePieceNormalizer, SPACE_SYMBOL, utf8CharLength } from './sentencepiece-normalizer.ts';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export type SentencePieceModelType = 'unigram' | 'bpe';

/** What a `ModelProto` holds that encoding and decoding need. */
export interface SentencePieceModel {
  modelType: SentencePieceModelType;
  pieces: SentencePiece[];
  byteFallback: boolean;
  /** What decoding writes for <unk> (' ⁇ ' by default). */
  unkSurface: string;
  /** The trainer's special ids (-1 when absent); the <unk> actually used is the UNKNOWN piece. */
  bosId: number;
  eosId: number;
  padId: number;
  normalizer: NormalizerSpec;
}

/** Unigram: an unknown character scores this much below the worst piece. */
const UNK_PENALTY = 10;
const FLT_MIN = 1.1754943508222875e-38;
const DEFAULT_UNK_SURFACE = ' \u2047 ';
const utf8Encoder = new TextEncoder();
const MODEL_TYPES: Record<number, SentencePieceModelType | 'word' | 'char'> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };

/** Adjacent BPE pairs whose merge result is remembered. */
const PAIR_CACHE_LIMIT = 1 << 20;

interface TrieNode {
  children: Map<number, TrieNode>;
  /** The piece ending here, or -1. */
  id: number;
}

/** A piece of the segmentation and its id (the <unk> id for text no piece covers). */
interface Segment {
  piece: string;
  id: number;
}

/** How decoding drops the space that encoding put in front. */
type LeadingSpaceRule = 'sentencepiece' | 'first-token' | 'never';

/** What a tokenizer.json adds to the model: BPE merge ranks and the Hugging Face front end. */
interface TokenizerJsonOptions {
  mergeRanks?: Map<string, number>;
  hf: HfFrontEnd;
  leadingSpace: LeadingSpaceRule;
}

/** The Hugging Face tokenizer.json front end: added tokens, normalizers, Metaspace. */
interface HfFrontEnd {
  addedTokens: { content: string; id: number }[];
  normalizers: ((text: string) => string)[];
  replacement: string;
  prependScheme: 'always' | 'first' | 'never';
  split: boolean;
}

export class SentencePieceTokenizer {
  readonly vocabSize: number;
  readonly unkId: number;
  /** BOS/EOS/PAD ids when the model has those pieces. */
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly modelType: SentencePieceModelType;
  readonly byteFallback: boolean;

  private readonly pieces: SentencePiece[];
  /** Pieces segmentation may produce: NORMAL, USER_DEFINED, UNUSED (the library's `pieces_`). */
  private readonly segmentable = new Map<string, number>();
  /** CONTROL, UNKNOWN and BYTE pieces, looked up first (the library's `reserved_id_map_`). */
  private readonly reserved = new Map<string, number>();
  /** The segmentable pieces (UNUSED ones left out) as a trie over UTF-16 code units, for the Viterbi pass. */
  private readonly trie: TrieNode = { children: new Map(), id: -1 };
  /** BPE: merge result of an adjacent pair of piece ids (`left * vocabSize + right`), or null; remembered. */
  private readonly pairs = new Map<number, { score: number; id: number } | null>();
  /** The best NORMAL score, at least FLT_MIN as in the library: user-defined pieces score `bytes * this - 0.1`. */
  private readonly maxScore: number;
  private readonly unkScore: number;
  private readonly userDefinedBytes = new Map<number, number>();
  private readonly normalizer: SentencePieceNormalizer;
  private readonly unkSurface: string;
  private readonly leadingSpace: LeadingSpaceRule;
  /** BPE merges by pair (Hugging Face: rank order) instead of by the merged piece's score. */
  private readonly mergeRanks: Map<string, number> | null;
  private readonly hf: HfFrontEnd | null;

  private constructor(
    model: SentencePieceModel,
    private readonly source: string,
    options: Partial<TokenizerJsonOptions> = {},
  ) {
    this.modelType = model.modelType;
    this.byteFallback = model.byteFallback;
    this.pieces = model.pieces;
    this.vocabSize = model.pieces.length;
    let unkId = -1;
    let minScore = Infinity;
    let maxScore = FLT_MIN;
    const userDefined: string[] = [];
    model.pieces.forEach(({ piece, score, type }, id) => {
      if (piece.length === 0) throw this.error(`piece ${id} is empty`);
      const normal = type === PieceType.NORMAL || type === PieceType.USER_DEFINED || type === PieceType.UNUSED;
      const map = normal ? this.segmentable : this.reserved;
      if (map.has(piece)) throw this.error(`piece ${JSON.stringify(piece)} (id ${id}) is already defined (id ${map.get(piece)})`);
      map.set(piece, id);
      if (normal && type !== PieceType.UNUSED) this.addToTrie(piece, id);
      if (type === PieceType.NORMAL) {
        minScore = Math.min(minScore, score);
        maxScore = Math.max(maxScore, score);
      }
      if (type === PieceType.USER_DEFINED) {
        userDefined.push(piece);
        this.userDefinedBytes.set(id, utf8Encoder.encode(piece).length);
      }
      if (type === PieceType.UNKNOWN) {
        if (unkId >= 0) throw this.error(`<unk> is defined twice (ids ${unkId} and ${id})`);
        unkId = id;
      }
      if (type === PieceType.BYTE && !model.byteFallback) throw this.error(`byte piece ${JSON.stringify(piece)} (id ${id}) in a model without byte_fallback`);
    });
    if (unkId < 0) throw this.error('no <unk> piece (a piece of type UNKNOWN is required)');
    if (model.byteFallback) {
      for (let b = 0; b < 256; b++) {
        if (this.typeOf(this.reserved.get(byteToPiece(b))) !== PieceType.BYTE) throw this.error(`byte_fallback is on but piece ${byteToPiece(b)} is missing`);
      }
    }
    this.unkId = unkId;
    this.maxScore = maxScore;
    this.unkScore = Math.fround((minScore === Infinity ? 0 : minScore) - UNK_PENALTY);
    const specialId = (id: number) => (id >= 0 && id < this.vocabSize ? id : undefined);
    this.bosId = specialId(model.bosId);
    this.eosId = specialId(model.eosId);
    this.padId = specialId(model.padId);
    this.normalizer = new SentencePieceNormalizer(model.normalizer, options.hf ? [] : userDefined, source);
    this.unkSurface = model.unkSurface;
    this.leadingSpace = options.leadingSpace ?? (model.normalizer.addDummyPrefix || model.normalizer.removeExtraWhitespaces ? 'sentencepiece' : 'never');
    this.mergeRanks = options.mergeRanks ?? null;
    this.hf = options.hf ?? null;
  }

  /** From a SentencePiece `ModelProto` file (`*.model`, Marian's `source.spm`). */
  static fromModelProto(bytes: Uint8Array, source = '<ModelProto>'): SentencePieceTokenizer {
    return new SentencePieceTokenizer(parseModelProto(bytes, source), source);
  }

  /** From a Hugging Face `tokenizer.json` (parsed) with a Unigram or BPE model and a Metaspace pre-tokenizer. */
  static fromTokenizerJson(json: unknown, source = 'tokenizer.json'): SentencePieceTokenizer {
    const { model, options } = parseTokenizerJson(json, source);
    return new SentencePieceTokenizer(model, source, options);
  }

  /** The pieces of `text`, as `encode_as_pieces` gives them (an unknown piece is its text, not '<unk>'). */
  encodePieces(text: string): string[] {
    return this.segment(text).map((s) => s.piece);
  }

  /** The ids of `text` (no BOS/EOS: add them as the model expects). */
  encode(text: string): number[] {
    return this.segment(text).map((s) => s.id);
  }

  /**
   * Join pieces into text as the library's `decode_pieces` does: control pieces vanish, byte pieces
   * are gathered into UTF-8 (a byte that starts no valid character becomes U+FFFD), '▁' becomes ' ',
   * and the leading space goes: SentencePiece strips it from every piece while the text is still
   * empty; a tokenizer.json (Metaspace) strips it from the first piece that is not a control token.
   */
  decodePieces(pieces: readonly string[]): string {
    const space = this.hf?.replacement ?? SPACE_SYMBOL;
    let text = '';
    let bytes: number[] = [];
    let first = true;
    for (let piece of pieces) {
      const id = this.lookup(piece);
      const type = this.typeOf(id);
      if (type === PieceType.CONTROL) continue;
      const leading = this.leadingSpace === 'sentencepiece' ? text.length === 0 && bytes.length === 0 : this.leadingSpace === 'first-token' && first;
      first = false;
      if (type === PieceType.BYTE) {
        bytes.push(parseInt(piece.slice(3, 5), 16));
        continue;
      }
      text += decodeBytes(bytes);
      bytes = [];
      if (type === PieceType.UNKNOWN) {
        // The <unk> piece itself reads as its surface (' ⁇ '); the text of an unknown piece stays as it is.
        text += piece === this.pieces[this.unkId]!.piece ? this.unkSurface : piece;
        continue;
      }
      if (leading && piece.startsWith(space)) piece = piece.slice(space.length);
      text += piece.replaceAll(space, ' ');
    }
    return text + decodeBytes(bytes);
  }

  decode(ids: readonly number[]): string {
    return this.decodePieces(ids.map((id) => this.idToPiece(id)));
  }

  idToPiece(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`SentencePiece '${this.source}': token id ${id} is not in the vocabulary [0, ${this.vocabSize})`);
    }
    return this.pieces[id]!.piece;
  }

  /** The id of a piece, or undefined when the vocabulary lacks it. */
  pieceToId(piece: string): number | undefined {
    return this.reserved.get(piece) ?? this.segmentable.get(piece);
  }

  pieceType(id: number): PieceType {
    this.idToPiece(id);
    return this.pieces[id]!.type;
  }

  pieceScore(id: number): number {
    this.idToPiece(id);
    return this.pieces[id]!.score;
  }

  /** The library's PieceToId: unknown pieces map to <unk>. */
  private lookup(piece: string): number {
    return this.pieceToId(piece) ?? this.unkId;
  }

  private typeOf(id: number | undefined): PieceType | undefined {
    return id === undefined ? undefined : this.pieces[id]!.type;
  }

  private error(message: string): TokenizerError {
    return new TokenizerError(`SentencePiece '${this.source}': ${message}`);
  }

  private segment(text: string): Segment[] {
    if (this.hf) return this.segmentHf(text, this.hf);
    return this.resolveUnknowns(this.segmentNormalized(this.normalizer.normalize(text)));
  }

  private segmentNormalized(normalized: string): Segment[] {
    if (normalized.length === 0) return [];
    return this.modelType === 'unigram' ? this.viterbi(normalized) : this.bpe(normalized);
  }

  /**
   * SentencePieceProcessor::Encode's last step: with byte fallback an unknown piece becomes its UTF-8
   * bytes; without, neighbouring unknown pieces merge into one.
   */
  private resolveUnknowns(segments: Segment[]): Segment[] {
    const out: Segment[] = [];
    let previousUnknown = false;
    for (const segment of segments) {
      const unknown = segment.id === this.unkId;
      if (unknown && this.byteFallback) {
        for (const byte of utf8Encoder.encode(segment.piece)) {
          const piece = byteToPiece(byte);
          out.push({ piece, id: this.lookup(piece) });
        }
      } else if (unknown && previousUnknown) {
        out[out.length - 1]!.piece += segment.piece;
      } else {
        out.push({ ...segment });
      }
      previousUnknown = unknown;
    }
    return out;
  }

  private addToTrie(piece: string, id: number): void {
    let node = this.trie;
    for (let i = 0; i < piece.length; i++) {
      const unit = piece.charCodeAt(i);
      let child = node.children.get(unit);
      if (!child) node.children.set(unit, (child = { children: new Map(), id: -1 }));
      node = child;
    }
    node.id = id;
  }

  /**
   * Unigram segmentation: best[e] is the highest total score of any segmentation of the text up to
   * offset e, built left to right: from each reached character boundary, walk the trie along the text
   * and offer every piece found there to the position where it ends. Scores are summed in float32 and
   * ties keep the earlier candidate, as the library does, so the choice between equal-scoring paths
   * matches it too. A character that no single piece covers gets an <unk> edge scoring `min score - 10`.
   */
  private viterbi(normalized: string): Segment[] {
    const n = normalized.length;
    const bestScore = new Float64Array(n + 1);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1).fill(-1);
    const offer = (end: number, start: number, score: number, id: number) => {
      if (bestStart[end] === -1 || score > bestScore[end]!) {
        bestScore[end] = Math.fround(score);
        bestStart[end] = start;
        bestId[end] = id;
      }
    };
    for (let start = 0; start < n; ) {
      const charLength = normalized.codePointAt(start)! > 0xffff ? 2 : 1;
      const scoreHere = bestScore[start]!;
      let coversOneChar = false;
      let node: TrieNode | undefined = this.trie;
      for (let end = start + 1; end <= n; end++) {
        node = node.children.get(normalized.charCodeAt(end - 1));
        if (!node) break;
        if (node.id < 0) continue;
        const id = node.id;
        const userBytes = this.userDefinedBytes.get(id);
        // A user-defined piece always wins: it scores as if made of best-possible bytes, less 0.1.
        const score = userBytes !== undefined ? Math.fround(userBytes * this.maxScore) - 0.1 + scoreHere : Math.fround(this.pieces[id]!.score + scoreHere);
        offer(end, start, score, id);
        if (end - start === charLength) coversOneChar = true;
      }
      if (!coversOneChar) offer(start + charLength, start, Math.fround(this.unkScore + scoreHere), this.unkId);
      start += charLength;
    }
    const segments: Segment[] = [];
    for (let end = n; end > 0; end = bestStart[end]!) {
      segments.push({ piece: normalized.slice(bestStart[end], end), id: bestId[end]! });
    }
    return segments.reverse();
  }

  /**
   * BPE segmentation: start from characters (a user-defined piece is one symbol that never merges),
   * then repeatedly merge the best adjacent pair, kept in a heap. A heap entry goes stale when either
   * side has since merged with something else; its sides' lengths then no longer add up, so it is skipped.
   */
  private bpe(normalized: string): Segment[] {
    const symbols: { piece: string; id: number; prev: number; next: number; frozen: boolean }[] = [];
    for (let i = 0; i < normalized.length; ) {
      const user = this.hf ? undefined : this.userSymbolAt(normalized, i);
      const piece = user ?? String.fromCodePoint(normalized.codePointAt(i)!);
      symbols.push({ piece, id: this.segmentable.get(piece) ?? -1, prev: symbols.length - 1, next: symbols.length + 1, frozen: user !== undefined });
      i += piece.length;
    }
    symbols[symbols.length - 1]!.next = -1;
    const heap = new Heap<{ score: number; left: number; right: number; length: number; id: number }>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    // Merged piece → its two halves, for UNUSED pieces, which are split back at the end.
    const unusedHalves = new Map<string, [string, string]>();
    const consider = (left: number, right: number) => {
      if (left < 0 || right < 0 || symbols[left]!.frozen || symbols[right]!.frozen) return;
      const a = symbols[left]!;
      const b = symbols[right]!;
      const merged = this.pairMerge(a, b);
      if (!merged) return;
      heap.push({ score: merged.score, left, right, length: a.piece.length + b.piece.length, id: merged.id });
      if (this.pieces[merged.id]!.type === PieceType.UNUSED) unusedHalves.set(a.piece + b.piece, [a.piece, b.piece]);
    };
    for (let i = 1; i < symbols.length; i++) consider(i - 1, i);
    for (let top = heap.pop(); top; top = heap.pop()) {
      const left = symbols[top.left]!;
      const right = symbols[top.right]!;
      if (left.piece.length === 0 || right.piece.length === 0 || left.piece.length + right.piece.length !== top.length) continue;
      left.piece += right.piece;
      left.id = top.id;
      right.piece = '';
      left.next = right.next;
      if (right.next >= 0) symbols[right.next]!.prev = top.left;
      consider(left.prev, top.left);
      consider(top.left, left.next);
    }
    const segments: Segment[] = [];
    const emit = (piece: string) => {
      const id = this.segmentable.get(piece) ?? this.lookup(piece);
      const halves = this.pieces[id]!.type === PieceType.UNUSED ? unusedHalves.get(piece) : undefined;
      if (halves) halves.forEach(emit);
      else segments.push({ piece, id });
    };
    for (let i = 0; i >= 0; i = symbols[i]!.next) emit(symbols[i]!.piece);
    return segments;
  }

  /** The merge of two adjacent symbols, if their concatenation may merge; remembered per pair of piece ids. */
  private pairMerge(a: { piece: string; id: number }, b: { piece: string; id: number }): { score: number; id: number } | null {
    // A symbol that is no piece (an unknown character) is looked up by text, uncached.
    if (a.id < 0 || b.id < 0) return this.mergeScore(a.piece, b.piece) ?? null;
    const key = a.id * this.vocabSize + b.id;
    let merged = this.pairs.get(key);
    if (merged === undefined) {
      merged = this.mergeScore(a.piece, b.piece) ?? null;
      if (this.pairs.size >= PAIR_CACHE_LIMIT) this.pairs.clear();
      this.pairs.set(key, merged);
    }
    return merged;
  }

  /** The priority of merging `a` and `b`: the merged piece's score (SentencePiece) or minus the pair's rank (HF merges). */
  private mergeScore(a: string, b: string): { score: number; id: number } | undefined {
    const id = this.segmentable.get(a + b);
    if (id === undefined) return undefined;
    if (!this.mergeRanks) return { score: this.pieces[id]!.score, id };
    const rank = this.mergeRanks.get(`${a} ${b}`);
    return rank === undefined ? undefined : { score: -rank, id };
  }

  /** The longest user-defined piece starting at `offset` of `text`, if any. */
  private userSymbolAt(text: string, offset: number): string | undefined {
    let best: string | undefined;
    for (const id of this.userDefinedBytes.keys()) {
      const piece = this.pieces[id]!.piece;
      if ((best === undefined || piece.length > best.length) && text.startsWith(piece, offset)) best = piece;
    }
    return best;
  }

  /**
   * Hugging Face's pipeline: split out added tokens; normalize the rest; Metaspace writes spaces as '▁',
   * prepends one, and splits before each '▁'; each word is segmented on its own.
   */
  private segmentHf(text: string, hf: HfFrontEnd): Segment[] {
    const out: Segment[] = [];
    let first = true;
    for (const part of splitAddedTokens(text, hf.addedTokens)) {
      if (typeof part !== 'string') {
        out.push({ piece: this.pieces[part]!.piece, id: part });
        first = false;
        continue;
      }
      let normalized = part;
      for (const normalize of hf.normalizers) normalized = normalize(normalized);
      if (normalized.length === 0) continue;
      normalized = normalized.replaceAll(' ', hf.replacement);
      const prepend = hf.prependScheme === 'always' || (hf.prependScheme === 'first' && first);
      if (prepend && !normalized.startsWith(hf.replacement)) normalized = hf.replacement + normalized;
      first = false;
      const words = hf.split ? splitBefore(normalized, hf.replacement) : [normalized];
      for (const word of words) out.push(...this.resolveUnknowns(this.segmentNormalized(word)));
    }
    return out;
  }
}

/** The pieces of a text after splitting out added tokens (as their ids), leftmost-longest. */
function splitAddedTokens(text: string, added: readonly { content: string; id: number }[]): (string | number)[] {
  if (added.length === 0) return [text];
  const parts: (string | number)[] = [];
  let plainStart = 0;
  for (let i = 0; i < text.length; ) {
    let match: { content: string; id: number } | undefined;
    for (const token of added) if ((!match || token.content.length > match.content.length) && text.startsWith(token.content, i)) match = token;
    if (!match) {
      i++;
      continue;
    }
    if (i > plainStart) parts.push(text.slice(plainStart, i));
    parts.push(match.id);
    i += match.content.length;
    plainStart = i;
  }
  if (plainStart < text.length) parts.push(text.slice(plainStart));
  return parts;
}

/** Split `text` before each `marker` (tokenizers' MergedWithNext): '▁a▁b' → ['▁a', '▁b']. */
function splitBefore(text: string, marker: string): string[] {
  const words: string[] = [];
  let start = 0;
  for (let i = text.indexOf(marker, 1); i >= 0; i = text.indexOf(marker, i + marker.length)) {
    if (i > start) words.push(text.slice(start, i));
    start = i;
  }
  words.push(text.slice(start));
  return words.filter((w) => w.length > 0);
}

export function byteToPiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** UTF-8 bytes to text; each byte that starts no valid character becomes U+FFFD, as the library decodes byte pieces. */
function decodeBytes(bytes: readonly number[]): string {
  if (bytes.length === 0) return '';
  const data = Uint8Array.from(bytes);
  const decoder = new TextDecoder();
  let text = '';
  for (let i = 0; i < data.length; ) {
    const length = utf8CharLength(data, i);
    text += length === 0 ? '\ufffd' : decoder.decode(data.subarray(i, i + length));
    i += Math.max(length, 1);
  }
  return text;
}

/** A binary heap; `before(a, b)` is true when `a` should come out first. */
class Heap<T> {
  private items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  push(item: T): void {
    const items = this.items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        let best = i;
        if (l < items.length && this.before(items[l]!, items[best]!)) best = l;
        if (l + 1 < items.length && this.before(items[l + 1]!, items[best]!)) best = l + 1;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

/**
 * Decode a `ModelProto` (sentencepiece_model.proto): field 1 pieces {1 piece, 2 score, 3 type},
 * 2 trainer_spec {3 model_type, 35 byte_fallback, 24 treat_whitespace_as_suffix, 41/42/43 bos/eos/pad
 * ids, 44 unk_surface}, 3 normalizer_spec {1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
 * 4 remove_extra_whitespaces, 5 escape_whitespaces}. Unset fields take the proto's defaults.
 */
export function parseModelProto(bytes: Uint8Array, source = '<ModelProto>'): SentencePieceModel {
  const where = `SentencePiece model '${source}'`;
  const model: SentencePieceModel = {
    modelType: 'unigram',
    pieces: [],
    byteFallback: false,
    unkSurface: DEFAULT_UNK_SURFACE,
    bosId: 1,
    eosId: 2,
    padId: -1,
    normalizer: { ...DEFAULT_NORMALIZER_SPEC },
  };
  let modelType: SentencePieceModelType | 'word' | 'char' = 'unigram';
  let whitespaceAsSuffix = false;
  for (const field of readProtoFields(bytes, where)) {
    if (field.number === 1) {
      const piece: SentencePiece = { piece: '', score: 0, type: PieceType.NORMAL };
      const pieceWhere = `${where}: piece ${model.pieces.length}`;
      for (const f of readProtoFields(protoBytes(field, where), pieceWhere)) {
        if (f.number === 1) piece.piece = protoString(f, pieceWhere);
        else if (f.number === 2) piece.score = protoFloat(f, pieceWhere);
        else if (f.number === 3) {
          const type = protoInt(f, pieceWhere);
          if (!Object.values(PieceType).includes(type as PieceType)) throw new TokenizerError(`${pieceWhere}: unknown piece type ${type}`);
          piece.type = type as PieceType;
        }
      }
      model.pieces.push(piece);
    } else if (field.number === 2) {
      const specWhere = `${where}: trainer_spec`;
      for (const f of readProtoFields(protoBytes(field, where), specWhere)) {
        if (f.number === 3) {
          const type = MODEL_TYPES[protoInt(f, specWhere)];
          if (type === undefined) throw new TokenizerError(`${specWhere}: unknown model_type ${protoInt(f, specWhere)}`);
          modelType = type;
        } else if (f.number === 35) model.byteFallback = protoInt(f, specWhere) !== 0;
        else if (f.number === 24) whitespaceAsSuffix = protoInt(f, specWhere) !== 0;
        else if (f.number === 41) model.bosId = protoInt(f, specWhere);
        else if (f.number === 42) model.eosId = protoInt(f, specWhere);
        else if (f.number === 43) model.padId = protoInt(f, specWhere);
        else if (f.number === 44) model.unkSurface = protoString(f, specWhere);
      }
    } else if (field.number === 3) {
      const specWhere = `${where}: normalizer_spec`;
      const spec = model.normalizer;
      for (const f of readProtoFields(protoBytes(field, where), specWhere)) {
        if (f.number === 1) spec.name = protoString(f, specWhere);
        else if (f.number === 2) spec.precompiledCharsmap = protoBytes(f, specWhere);
        else if (f.number === 3) spec.addDummyPrefix = protoInt(f, specWhere) !== 0;
        else if (f.number === 4) spec.removeExtraWhitespaces = protoInt(f, specWhere) !== 0;
        else if (f.number === 5) spec.escapeWhitespaces = protoInt(f, specWhere) !== 0;
      }
    }
  }
  if (model.pieces.length === 0) throw new TokenizerError(`${where}: no pieces (is this a SentencePiece model file?)`);
  if (modelType === 'word' || modelType === 'char') throw new TokenizerError(`${where}: model_type ${modelType.toUpperCase()} is not supported (only UNIGRAM and BPE)`);
  if (whitespaceAsSuffix) throw new TokenizerError(`${where}: treat_whitespace_as_suffix is not supported`);
  model.modelType = modelType;
  return model;
}

// ---------------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseTokenizerJson(json: unknown, source: string): { model: SentencePieceModel; options: TokenizerJsonOptions } {
  const fail = (message: string) => new TokenizerError(`${source}: ${message}`);
  if (!isObject(json) || !isObject(json.model)) throw fail('no "model" object (is this a Hugging Face tokenizer.json?)');
  const modelJson = json.model;
  const type = modelJson.type;
  if (type !== 'Unigram' && type !== 'BPE') throw fail(`model type ${jsonForMessage(type)} is not Unigram or BPE`);
  const byteFallback = modelJson.byte_fallback === true;

  const pieces: SentencePiece[] = [];
  let mergeRanks: Map<string, number> | undefined;
  let unkId: number | undefined;
  if (type === 'Unigram') {
    if (!Array.isArray(modelJson.vocab)) throw fail('Unigram model has no "vocab" array');
    modelJson.vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') throw fail(`Unigram vocab entry ${id} is not [piece, score]`);
      pieces.push({ piece: entry[0], score: entry[1], type: PieceType.NORMAL });
    });
    if (typeof modelJson.unk_id === 'number') unkId = modelJson.unk_id;
  } else {
    if (!isObject(modelJson.vocab) || !Array.isArray(modelJson.merges)) throw fail('BPE model needs a "vocab" object and a "merges" array');
    for (const key of ['dropout', 'continuing_subword_prefix', 'end_of_word_suffix'] as const) {
      if (modelJson[key] !== undefined && modelJson[key] !== null) throw fail(`BPE option ${key} is not supported`);
    }
    for (const [piece, id] of Object.entries(modelJson.vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw fail(`BPE vocab entry ${jsonForMessage(piece)} has invalid id ${jsonForMessage(id)}`);
      pieces[id as number] = { piece, score: -(id as number), type: PieceType.NORMAL };
    }
    for (let id = 0; id < pieces.length; id++) if (!pieces[id]) throw fail(`BPE vocab has no token with id ${id}`);
    mergeRanks = new Map();
    modelJson.merges.forEach((merge, rank) => {
      const pair = typeof merge === 'string' ? merge.split(' ') : merge;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw fail(`BPE merge ${rank} is not a pair`);
      const key = `${pair[0]} ${pair[1]}`;
      if (!mergeRanks!.has(key)) mergeRanks!.set(key, rank);
    });
    if (typeof modelJson.unk_token === 'string') unkId = pieces.findIndex((p) => p.piece === modelJson.unk_token);
  }
  if (unkId === undefined || unkId < 0 || unkId >= pieces.length) throw fail('the model names no <unk> token in its vocabulary');
  pieces[unkId]!.type = PieceType.UNKNOWN;

  const addedTokens: { content: string; id: number }[] = [];
  const addedJson = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  for (const token of addedJson) {
    if (!isObject(token) || typeof token.content !== 'string' || typeof token.id !== 'number') throw fail('an added_tokens entry lacks "content" or "id"');
    const piece = pieces[token.id];
    if (!piece || piece.piece !== token.content) throw fail(`added token ${jsonForMessage(token.content)} has id ${token.id}, which the vocabulary gives to ${jsonForMessage(piece?.piece)}`);
    if (token.id !== unkId) piece.type = token.special === true ? PieceType.CONTROL : PieceType.USER_DEFINED;
    addedTokens.push({ content: token.content, id: token.id });
  }
  if (byteFallback) {
    for (const piece of pieces) if (/^<0x[0-9A-F]{2}>$/.test(piece.piece)) piece.type = PieceType.BYTE;
  }

  const metaspace = findMetaspace(json.pre_tokenizer, fail);
  const normalizers = hfNormalizers(json.normalizer, source, fail);
  const id = (name: string) => pieces.findIndex((p) => p.piece === name);
  const model: SentencePieceModel = {
    modelType: type === 'Unigram' ? 'unigram' : 'bpe',
    pieces,
    byteFallback,
    unkSurface: pieces[unkId]!.piece,
    bosId: id('<s>'),
    eosId: id('</s>'),
    padId: id('<pad>'),
    normalizer: { ...DEFAULT_NORMALIZER_SPEC, addDummyPrefix: false, removeExtraWhitespaces: false },
  };
  const options: TokenizerJsonOptions = {
    mergeRanks,
    hf: { addedTokens, normalizers, ...metaspace },
    leadingSpace: metaspace.prependScheme === 'never' ? 'never' : 'first-token',
  };
  return { model, options };
}

/** The Metaspace settings, from `pre_tokenizer` (alone or inside a Sequence). */
function findMetaspace(json: unknown, fail: (m: string) => TokenizerError): { replacement: string; prependScheme: 'always' | 'first' | 'never'; split: boolean } {
  const candidates = isObject(json) && json.type === 'Sequence' && Array.isArray(json.pretokenizers) ? json.pretokenizers : [json];
  const metaspace = candidates.find((p) => isObject(p) && p.type === 'Metaspace');
  if (!isObject(metaspace)) throw fail(`pre_tokenizer ${jsonForMessage(isObject(json) ? json.type : json)} is not Metaspace`);
  const others = candidates.filter((p) => p !== metaspace && !(isObject(p) && p.type === 'WhitespaceSplit'));
  if (others.length > 0) throw fail(`pre_tokenizer ${jsonForMessage((others[0] as Json).type)} next to Metaspace is not supported`);
  const replacement = typeof metaspace.replacement === 'string' ? metaspace.replacement : SPACE_SYMBOL;
  let prependScheme: 'always' | 'first' | 'never';
  if (metaspace.prepend_scheme === 'always' || metaspace.prepend_scheme === 'first' || metaspace.prepend_scheme === 'never') prependScheme = metaspace.prepend_scheme;
  else prependScheme = metaspace.add_prefix_space === false ? 'never' : 'always';
  return { replacement, prependScheme, split: metaspace.split !== false };
}

/** The normalizers `tokenizers` applies, in order. */
function hfNormalizers(json: unknown, source: string, fail: (m: string) => TokenizerError): ((text: string) => string)[] {
  if (json === null || json === undefined) return [];
  if (!isObject(json)) throw fail('normalizer is not an object');
  switch (json.type) {
    case 'Sequence':
      if (!Array.isArray(json.normalizers)) throw fail('Sequence normalizer has no "normalizers" array');
      return json.normalizers.flatMap((n) => hfNormalizers(n, source, fail));
    case 'Precompiled': {
      if (typeof json.precompiled_charsmap !== 'string') throw fail('Precompiled normalizer has no precompiled_charsmap');
      let blob: Uint8Array;
      try {
        blob = base64ToBytes(json.precompiled_charsmap);
      } catch {
        throw fail('Precompiled normalizer: precompiled_charsmap is not base64');
      }
      if (blob.length === 0) return [];
      const map = new PrecompiledCharsMap(blob, source);
      return [(text) => applyCharsMap(map, text)];
    }
    case 'Replace': {
      const pattern = json.pattern;
      const content = json.content;
      if (!isObject(pattern) || typeof content !== 'string') throw fail('Replace normalizer needs "pattern" and "content"');
      if (typeof pattern.String === 'string') {
        const from = pattern.String;
        return [(text) => text.replaceAll(from, content)];
      }
      if (typeof pattern.Regex === 'string') {
        const regex = new RegExp(pattern.Regex, 'gu');
        return [(text) => text.replace(regex, () => content)];
      }
      throw fail('Replace normalizer pattern is neither String nor Regex');
    }
    case 'Strip': {
      const left = json.strip_left !== false;
      const right = json.strip_right !== false;
      return [(text) => (left && right ? text.trim() : left ? text.trimStart() : right ? text.trimEnd() : text)];
    }
    case 'NFKC':
    case 'NFC':
    case 'NFKD':
    case 'NFD': {
      const form = json.type;
      return [(text) => text.normalize(form)];
    }
    case 'Lowercase':
      return [(text) => text.toLowerCase()];
    case 'Prepend': {
      const prefix = typeof json.prepend === 'string' ? json.prepend : '';
      return [(text) => (text.length > 0 ? prefix + text : text)];
    }
    default:
      throw fail(`normalizer ${jsonForMessage(json.type)} is not supported`);
  }
}

/** The Precompiled normalizer: every longest charsmap match replaced, other characters kept. */
function applyCharsMap(map: PrecompiledCharsMap, text: string): string {
  const input = new TextEncoder().encode(text);
  const out: number[] = [];
  for (let i = 0; i < input.length; ) {
    const ruleLength = map.longestMatch(input, i);
    if (ruleLength > 0) {
      const strings = map.strings;
      for (let k = map.replacementBegin; k < map.replacementEnd; k++) out.push(strings[k]!);
      i += ruleLength;
    } else {
      const length = Math.max(utf8CharLength(input, i), 1);
      for (let k = 0; k < length; k++) out.push(input[i + k]!);
      i += length;
    }
  }
  return new TextDecoder().decode(Uint8Array.from(out));
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
