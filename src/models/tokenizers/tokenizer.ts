/**
 * What every tokenizer offers. Tokens are byte strings, not characters: one emoji may span several
 * tokens, so text is assembled from bytes and decoded as UTF-8 only at the end (or incrementally by
 * `StreamingDecoder`, which holds back an unfinished character until its last byte arrives).
 */

import { TokenizerError } from '../errors.ts';

export interface Tokenizer {
  readonly vocabSize: number;
  /** Begin-of-sequence id, where the tokenizer has one. */
  readonly bos?: number;
  /** End-of-sequence (end-of-text) id, where the tokenizer has one. */
  readonly eos?: number;
  encode(text: string): number[];
  /** Invalid or unfinished UTF-8 becomes U+FFFD, as the reference decoders do. */
  decode(ids: readonly number[]): string;
  /** The raw bytes token `id` contributes when it follows `previous` (some decoders look one token back). */
  tokenBytes(id: number, previous?: number): Uint8Array;
}

/** Concatenate the bytes of `ids` and decode them as UTF-8 with replacement. */
export function decodeTokens(tokenizer: Tokenizer, ids: readonly number[]): string {
  const decoder = new StreamingDecoder(tokenizer);
  return ids.map((id) => decoder.push(id)).join('') + decoder.flush();
}

/**
 * Turns ids arriving one at a time (e.g. from generation) into text chunks, never splitting a multi-byte
 * UTF-8 character: the chunks joined equal `tokenizer.decode(allIds)`.
 */
export class StreamingDecoder {
  private utf8 = new TextDecoder('utf-8');
  private previous: number | undefined;

  constructor(private readonly tokenizer: Tokenizer) {}

  /** The text that `id` completes (often '' while a character is unfinished). */
  push(id: number): string {
    const bytes = this.tokenizer.tokenBytes(id, this.previous);
    this.previous = id;
    return this.utf8.decode(bytes, { stream: true });
  }

  /** Whatever is held back (an unfinished character becomes U+FFFD); the decoder is then ready for a new sequence. */
  flush(): string {
    this.previous = undefined;
    return this.utf8.decode();
  }
}

export function checkTokenId(id: number, vocabSize: number, kind: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new TokenizerError(`${kind} tokenizer: token id ${id} is not in the vocabulary [0, ${vocabSize})`);
  }
}
