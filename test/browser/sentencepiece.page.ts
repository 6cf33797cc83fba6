/**
 * Browser side of the Chromium check in sentencepiece.test.ts: SentencePiece models and a Marian
 * folder fetched over HTTP and run in the page (no GPU needed), through the same byte-level code
 * as in Node. A gzipped model is unpacked with the browser's DecompressionStream.
 */
import { MarianTokenizer } from '../../src/models/tokenizers/marian.ts';
import { SentencePieceTokenizer } from '../../src/models/tokenizers/sentencepiece.ts';

async function fetchModel(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status}`);
  const body = url.endsWith('.gz') ? response.body!.pipeThrough(new DecompressionStream('gzip')) : response.body!;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Encode every text with the model at `url` and decode the ids back. */
export async function encodeAll(url: string, texts: string[]): Promise<{ ids: number[]; pieces: string[]; decoded: string }[]> {
  const tokenizer = SentencePieceTokenizer.fromModelProto(await fetchModel(url), url);
  return texts.map((text) => {
    const ids = tokenizer.encode(text);
    return { ids, pieces: tokenizer.encodePieces(text), decoded: tokenizer.decode(ids) };
  });
}

/** Marian: encode `texts` and decode `idLists` (special tokens skipped) with the folder at `base`. */
export async function marian(base: string, texts: string[], idLists: number[][]): Promise<{ encoded: number[][]; decoded: string[] }> {
  const tokenizer = await MarianTokenizer.fromUrl(new URL(base, location.href));
  return { encoded: texts.map((t) => tokenizer.encode(t)), decoded: idLists.map((ids) => tokenizer.decode(ids)) };
}
