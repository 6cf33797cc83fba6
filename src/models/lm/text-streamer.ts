import type { Tokenizer } from '../tokenizers/tokenizer.ts';

/** Decodes generated ids to text as they arrive, never splitting a UTF-8 character. */
export class TextStreamer {
  private readonly utf8 = new TextDecoder('utf-8');
  private text = '';
  lastLength = 0;

  constructor(private readonly tokenizer: Tokenizer | undefined, private previous: number) {}

  push(id: number): string {
    let piece = '';
    if (this.tokenizer && id < this.tokenizer.vocabSize) piece = this.utf8.decode(this.tokenizer.tokenBytes(id, this.previous), { stream: true });
    this.previous = id;
    this.text += piece;
    this.lastLength = piece.length;
    return piece;
  }

  /** The last n characters generated. */
  tail(n: number): string {
    return this.text.slice(Math.max(0, this.text.length - n));
  }
}
