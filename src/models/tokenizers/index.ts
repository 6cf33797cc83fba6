export { decodeTokens, StreamingDecoder, type Tokenizer } from './tokenizer.ts';
export { fetchGpt2Tokenizer, GPT2_BYTE_SYMBOLS, Gpt2Tokenizer, loadGpt2Tokenizer, type Gpt2TokenizerOptions } from './gpt2.ts';
export { fetchLlama2cTokenizer, Llama2cTokenizer, loadLlama2cTokenizer, parseLlama2cTokenizer, type Llama2cEncodeOptions } from './llama2c.ts';
export { byteToPiece, parseModelProto, PieceType, SentencePieceTokenizer, type SentencePiece, type SentencePieceModel, type SentencePieceModelType } from './sentencepiece.ts';
export { MarianTokenizer, type MarianDecodeOptions, type MarianTokenizerFiles } from './marian.ts';
