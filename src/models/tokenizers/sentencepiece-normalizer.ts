/**
 * SentencePiece's text normalizer (normalizer.cc), byte for byte.
 *
 * A model's `normalizer_spec` carries a *precompiled charsmap*: the rules of `nmt_nfkc` (NFKC plus
 * the NMT clean-ups: control characters dropped, odd spaces made ' ', ...) compiled into
 *   uint32 little-endian  trie_size
 *   trie_size bytes       a Darts double-array trie over UTF-8 keys (uint32 units)
 *   the rest              the replacement strings, each ending in '\0'
 * Each trie leaf's value is the offset of its replacement string. Normalizing walks the UTF-8 input:
 * at each position the longest key that prefixes the rest is replaced by its string; with no match
 * one character is copied (an invalid byte becomes U+FFFD). User-defined symbols are copied
 * untouched. Then whitespace: leading and trailing spaces go, runs of spaces become one
 * (`remove_extra_whitespaces`), a space is put in front (`add_dummy_prefix`), and every space is
 * written as '▁' U+2581 (`escape_whitespaces`).
 */

import { TokenizerError } from '../errors.ts';

export const SPACE_SYMBOL = '\u2581';
const SPACE_SYMBOL_BYTES = Uint8Array.of(0xe2, 0x96, 0x81);
const REPLACEMENT_BYTES = Uint8Array.of(0xef, 0xbf, 0xbd);
const SPACE = 0x20;

export interface NormalizerSpec {
  /** The rule set's name ('nmt_nfkc', 'nfkc', 'identity', ...): informative, the charsmap holds the rules. */
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export const DEFAULT_NORMALIZER_SPEC: NormalizerSpec = {
  name: 'nmt_nfkc',
  precompiledCharsmap: new Uint8Array(0),
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
};

/**
 * The precompiled charsmap: a Darts-clone double array. Each uint32 unit packs
 *   bits 0-7 label (the byte that leads here; bit 31 set marks a leaf), bit 8 has_leaf,
 *   bits 10-31 offset to the children (shifted left by 8 more when bit 9 is set);
 * a leaf unit's low 31 bits are its value. From node `pos`, byte `b` leads to `pos ^ offset ^ b`,
 * valid when that unit's label is `b`.
 */
export class PrecompiledCharsMap {
  private readonly units: Uint32Array;
  /** The replacement strings, each ending in '\0'. */
  readonly strings: Uint8Array;
  /** Where the replacement of the last successful `longestMatch` lies in `strings`. */
  replacementBegin = 0;
  replacementEnd = 0;

  constructor(blob: Uint8Array, where: string) {
    if (blob.length < 4) throw new TokenizerError(`${where}: precompiled_charsmap of ${blob.length} bytes has no trie size`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) {
      throw new TokenizerError(`${where}: precompiled_charsmap trie size ${trieSize} does not fit its ${blob.length} bytes`);
    }
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.strings = blob.subarray(4 + trieSize);
  }

  /**
   * The longest rule whose key starts `input` at `start`: returns its key length (0 when none matches)
   * and leaves its replacement in `strings[replacementBegin, replacementEnd)`.
   */
  longestMatch(input: Uint8Array, start: number): number {
    const units = this.units;
    if (units.length === 0) return 0;
    let pos = offsetOf(units[0]!);
    let length = 0;
    let value = 0;
    for (let i = start; i < input.length; i++) {
      const byte = input[i]!;
      pos ^= byte;
      const unit = units[pos];
      if (unit === undefined || (unit & 0x800000ff) !== byte) break;
      pos ^= offsetOf(unit);
      if ((unit >>> 8) & 1) {
        length = i + 1 - start;
        value = units[pos]! & 0x7fffffff;
      }
    }
    if (length > 0) {
      let end = value;
      while (end < this.strings.length && this.strings[end] !== 0) end++;
      this.replacementBegin = value;
      this.replacementEnd = end;
    }
    return length;
  }

}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

/** The byte length of the valid UTF-8 character at `start`, or 0 when the bytes there are not one. */
export function utf8CharLength(bytes: Uint8Array, start: number): number {
  const b0 = bytes[start]!;
  if (b0 < 0x80) return 1;
  const continuation = (i: number) => i < bytes.length && (bytes[i]! & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(start + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (!continuation(start + 1) || !continuation(start + 2)) return 0;
    const code = ((b0 & 0x0f) << 12) | ((bytes[start + 1]! & 0x3f) << 6) | (bytes[start + 2]! & 0x3f);
    return code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (!continuation(start + 1) || !continuation(start + 2) || !continuation(start + 3)) return 0;
    const code = ((b0 & 0x07) << 18) | ((bytes[start + 1]! & 0x3f) << 12) | ((bytes[start + 2]! & 0x3f) << 6) | (bytes[start + 3]! & 0x3f);
    return code >= 0x10000 && code <= 0x10ffff ? 4 : 0;
  }
  return 0;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class SentencePieceNormalizer {
  private readonly charsMap: PrecompiledCharsMap | null;
  /** User-defined symbols as UTF-8, longest first: copied as they are, never normalized. */
  private readonly userSymbols: Uint8Array[];

  constructor(
    readonly spec: NormalizerSpec,
    userDefinedSymbols: readonly string[],
    where: string,
  ) {
    this.charsMap = spec.precompiledCharsmap.length > 0 ? new PrecompiledCharsMap(spec.precompiledCharsmap, where) : null;
    this.userSymbols = userDefinedSymbols.map((s) => utf8Encoder.encode(s)).filter((b) => b.length > 0);
    this.userSymbols.sort((a, b) => b.length - a.length);
  }

  /** Normalize `text` as SentencePieceProcessor::Encode does before segmenting it. */
  normalize(text: string): string {
    const input = utf8Encoder.encode(text);
    const { removeExtraWhitespaces, addDummyPrefix, escapeWhitespaces } = this.spec;
    const out = new ByteWriter(input.length + 16);
    const pushSpace = () => (escapeWhitespaces ? out.pushAll(SPACE_SYMBOL_BYTES, 0, 3) : out.push(SPACE));

    let position = 0;
    // Leading whitespace (after normalization: an ideographic space counts) is dropped.
    if (removeExtraWhitespaces) {
      while (position < input.length) {
        const consumed = this.normalizePrefix(input, position);
        if (this.prefixEnd - this.prefixBegin !== 1 || this.prefix[this.prefixBegin] !== SPACE) break;
        position += consumed;
      }
    }
    if (position >= input.length) return '';

    if (addDummyPrefix) pushSpace();
    let previousWasSpace = removeExtraWhitespaces;
    while (position < input.length) {
      const consumed = this.normalizePrefix(input, position);
      const piece = this.prefix;
      let begin = this.prefixBegin;
      const end = this.prefixEnd;
      // A run of spaces keeps only its first.
      if (previousWasSpace && removeExtraWhitespaces) while (begin < end && piece[begin] === SPACE) begin++;
      if (begin < end) {
        for (let i = begin; i < end; i++) {
          if (escapeWhitespaces && piece[i] === SPACE) pushSpace();
          else out.push(piece[i]!);
        }
        previousWasSpace = piece[end - 1] === SPACE;
      }
      position += consumed;
      if (!removeExtraWhitespaces) previousWasSpace = false;
    }

    // Trailing whitespace is dropped (the dummy prefix too, were nothing else left).
    if (removeExtraWhitespaces) {
      const space = escapeWhitespaces ? SPACE_SYMBOL_BYTES : Uint8Array.of(SPACE);
      while (out.endsWith(space)) out.length -= space.length;
    }
    return utf8Decoder.decode(out.bytes());
  }

  /** The normalized bytes of the last `normalizePrefix`: `prefix[prefixBegin, prefixEnd)` (no allocation per character). */
  private prefix: Uint8Array = REPLACEMENT_BYTES;
  private prefixBegin = 0;
  private prefixEnd = 0;

  /**
   * Normalizer::NormalizePrefix: normalizes the text at `start` into `prefix` and returns how many input
   * bytes that consumed: a user-defined symbol as it is, else the longest charsmap rule, else one
   * character (a malformed byte becomes U+FFFD, consuming that one byte).
   */
  private normalizePrefix(input: Uint8Array, start: number): number {
    for (const symbol of this.userSymbols) {
      if (startsWith(input, start, symbol)) return this.setPrefix(input, start, start + symbol.length);
    }
    const ruleLength = this.charsMap ? this.charsMap.longestMatch(input, start) : 0;
    if (ruleLength > 0) {
      this.setPrefix(this.charsMap!.strings, this.charsMap!.replacementBegin, this.charsMap!.replacementEnd);
      return ruleLength;
    }
    const length = utf8CharLength(input, start);
    if (length === 0) {
      this.setPrefix(REPLACEMENT_BYTES, 0, 3);
      return 1;
    }
    return this.setPrefix(input, start, start + length);
  }

  private setPrefix(bytes: Uint8Array, begin: number, end: number): number {
    this.prefix = bytes;
    this.prefixBegin = begin;
    this.prefixEnd = end;
    return end - begin;
  }
}

/** A growable byte buffer. */
class ByteWriter {
  private data: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  push(byte: number): void {
    if (this.length === this.data.length) this.grow(1);
    this.data[this.length++] = byte;
  }

  pushAll(bytes: Uint8Array, begin: number, end: number): void {
    if (this.length + end - begin > this.data.length) this.grow(end - begin);
    this.data.set(bytes.subarray(begin, end), this.length);
    this.length += end - begin;
  }

  endsWith(suffix: Uint8Array): boolean {
    if (this.length < suffix.length) return false;
    for (let i = 0; i < suffix.length; i++) if (this.data[this.length - suffix.length + i] !== suffix[i]) return false;
    return true;
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  private grow(extra: number): void {
    const bigger = new Uint8Array(Math.max(2 * this.data.length, this.length + extra));
    bigger.set(this.data.subarray(0, this.length));
    this.data = bigger;
  }
}

function startsWith(input: Uint8Array, start: number, prefix: Uint8Array): boolean {
  if (start + prefix.length > input.length) return false;
  for (let i = 0; i < prefix.length; i++) if (input[start + i] !== prefix[i]) return false;
  return true;
}
