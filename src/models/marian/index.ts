// Marian / OPUS-MT translation: configuration and checkpoint layout, graphs, search, the model.
export { marianConfig, marianExpected, marianPrepare, sinusoidalPositions, type MarianConfig } from './config.ts';
export { ignoredKeysWarning, marianGeneration, type MarianGeneration } from './generation.ts';
export { buildDecoderStep, buildEncoder, type DecoderState } from './graphs.ts';
export { BeamSearch, GreedySearch, logSoftmax, processScores, type NextStep, type Search, type SearchResult, type SearchSettings } from './search.ts';
export { MarianModel, type CrossAttention, type MarianBuffers, type MarianLoadOptions, type TranslateOptions, type Translation, type TranslationTokenizer } from './model.ts';
