/**
 * The tokenizer of Marian / OPUS-MT translation models, as Hugging Face's MarianTokenizer does it:
 * two SentencePiece models (`source.spm` segments the input, `target.spm` joins the output) and one
 * `vocab.json` that maps pieces to the model's embedding rows (Marian's ids, not SentencePiece's).
 *
 * encode: special tokens written in the text (`</s>`, `<unk>`, `<pad>`, extras from
 *   tokenizer_config.json) are split out; each remaining chunk loses a leading language code
 *   ('>>de<<', kept as one token) and is segmented by source.spm; every piece becomes its vocab.json id
 *   (<unk> when vocab.json lacks it); `</s>` ends the sequence.
 * decode: ids → vocab.json pieces (special ids dropped unless asked to keep them), pieces joined by
 *   target.spm, '▁' → ' ', outer spaces trimmed.
 * HF's optional Moses punctuation normalizer (sacremoses) is not applied: HF itself skips it when
 * sacremoses is not installed, and `_tokenize` never calls it.
 */

import { TokenizerError, jsonForMessage } from '../errors.ts';
import { fetchBytes, fetchText, readFileBytes, readFileText } from '../io.ts';
import { SentencePieceTokenizer } from './sentencepiece.ts';

export interface MarianTokenizerFiles {
  sourceSpm: Uint8Array;
  targetSpm: Uint8Array;
  /** vocab.json: piece → id (text or parsed). */
  vocab: string | Readonly<Record<string, number>>;
  /** target_vocab.json, for models with `separate_vocabs` (decoding then uses it). */
  targetVocab?: string | Readonly<Record<string, number>>;
  /** tokenizer_config.json (text or parsed), when the folder has one. */
  tokenizerConfig?: string | Readonly<Record<string, unknown>>;
}

export interface MarianDecodeOptions {
  /** Drop </s>, <pad>, <unk> and the other special tokens (default true, what translation wants). */
  skipSpecialTokens?: boolean;
  /** HF's clean_up_tokenization (' .' → '.', " n't" → "n't", ...); default: tokenizer_config.json's setting, else false. */
  cleanUpTokenizationSpaces?: boolean;
}

const SPIECE_UNDERLINE = '\u2581';
const FILES = { sourceSpm: 'source.spm', targetSpm: 'target.spm', vocab: 'vocab.json', targetVocab: 'target_vocab.json', tokenizerConfig: 'tokenizer_config.json' };

export class MarianTokenizer {
  readonly source: SentencePieceTokenizer;
  readonly target: SentencePieceTokenizer;
  /** Entries in vocab.json (HF's `vocab_size`). */
  readonly vocabSize: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly padId: number;
  /** The special tokens' texts: unk, eos, pad, then any additional ones. */
  readonly specialTokens: readonly string[];
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly specialIds: Set<number>;
  private readonly unkToken: string;
  private readonly cleanUp: boolean;

  private constructor(files: MarianTokenizerFiles, where: string) {
    const config = parseJsonObject(files.tokenizerConfig ?? {}, `${where}/${FILES.tokenizerConfig}`);
    this.source = SentencePieceTokenizer.fromModelProto(files.sourceSpm, `${where}/${FILES.sourceSpm}`);
    this.target = SentencePieceTokenizer.fromModelProto(files.targetSpm, `${where}/${FILES.targetSpm}`);
    this.encoder = parseVocab(files.vocab, `${where}/${FILES.vocab}`);
    const separate = config.separate_vocabs === true;
    if (separate && files.targetVocab === undefined) throw new TokenizerError(`${where}: tokenizer_config.json sets separate_vocabs but there is no ${FILES.targetVocab}`);
    const decoderVocab = separate ? parseVocab(files.targetVocab!, `${where}/${FILES.targetVocab}`) : this.encoder;
    this.decoder = new Map([...decoderVocab].map(([piece, id]) => [id, piece]));
    this.vocabSize = this.encoder.size;

    const token = (key: string, fallback: string): string => tokenContent(config[key], fallback, `${where}/${FILES.tokenizerConfig}: ${key}`);
    this.unkToken = token('unk_token', '<unk>');
    const eosToken = token('eos_token', '</s>');
    const padToken = token('pad_token', '<pad>');
    const additional = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map((t, i) => tokenContent(t, '', `additional_special_tokens[${i}]`)) : [];
    const idOf = (piece: string) => {
      const id = this.encoder.get(piece);
      if (id === undefined) throw new TokenizerError(`${where}/${FILES.vocab} has no ${JSON.stringify(piece)} (a special token)`);
      return id;
    };
    this.unkId = idOf(this.unkToken);
    this.eosId = idOf(eosToken);
    this.padId = idOf(padToken);
    this.specialTokens = [this.unkToken, eosToken, padToken, ...additional];
    this.specialIds = new Set(this.specialTokens.map(idOf));
    this.cleanUp = config.clean_up_tokenization_spaces === true;
  }

  static fromBuffers(files: MarianTokenizerFiles, where = '<buffers>'): MarianTokenizer {
    return new MarianTokenizer(files, where);
  }

  /** Node: a Hugging Face Marian folder (source.spm, target.spm, vocab.json, optional tokenizer_config.json). */
  static async fromDirectory(dir: string): Promise<MarianTokenizer> {
    const read = async <T>(name: string, reader: (path: string) => Promise<T>, optional: boolean): Promise<T | undefined> => {
      try {
        return await reader(`${dir}/${name}`);
      } catch (error) {
        if (optional && (error as { code?: string }).code === 'ENOENT') return undefined;
        throw new TokenizerError(`Marian tokenizer: cannot read ${dir}/${name}: ${(error as Error).message}`);
      }
    };
    return MarianTokenizer.fromBuffers(
      {
        sourceSpm: (await read(FILES.sourceSpm, readFileBytes, false))!,
        targetSpm: (await read(FILES.targetSpm, readFileBytes, false))!,
        vocab: (await read(FILES.vocab, readFileText, false))!,
        targetVocab: await read(FILES.targetVocab, readFileText, true),
        tokenizerConfig: await read(FILES.tokenizerConfig, readFileText, true),
      },
      dir,
    );
  }

  /** Browser or Node: fetch the files from a folder URL (ending in '/'). */
  static async fromUrl(base: string | URL, init?: RequestInit): Promise<MarianTokenizer> {
    const url = (name: string) => new URL(name, base);
    const optional = (name: string) => fetchText(url(name), init).catch(() => undefined);
    return MarianTokenizer.fromBuffers(
      {
        sourceSpm: await fetchBytes(url(FILES.sourceSpm), init),
        targetSpm: await fetchBytes(url(FILES.targetSpm), init),
        vocab: await fetchText(url(FILES.vocab), init),
        targetVocab: await optional(FILES.targetVocab),
        tokenizerConfig: await optional(FILES.tokenizerConfig),
      },
      String(base),
    );
  }

  /** The tokens HF's `tokenize` gives: special tokens as written, a language code, source pieces. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const chunk of splitSpecial(text, this.specialTokens)) {
      if (chunk.special) {
        tokens.push(chunk.text);
        continue;
      }
      let rest = chunk.text;
      const codeEnd = rest.startsWith('>>') ? rest.indexOf('<<') : -1;
      if (codeEnd >= 0) {
        tokens.push(rest.slice(0, codeEnd + 2));
        rest = rest.slice(codeEnd + 2);
      }
      tokens.push(...this.source.encodePieces(rest));
    }
    return tokens;
  }

  /** Source ids for the encoder, ending in </s>. */
  encode(text: string): number[] {
    return [...this.tokenize(text).map((t) => this.encoder.get(t) ?? this.unkId), this.eosId];
  }

  decode(ids: readonly number[], options: MarianDecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const special = new Set(this.specialTokens);
    let text = '';
    let pieces: string[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`Marian tokenizer: token id ${id} is not in the vocabulary [0, ${this.vocabSize})`);
      }
      if (skip && this.specialIds.has(id)) continue;
      const token = this.decoder.get(id) ?? this.unkToken;
      // Special tokens are written as they are, never through SentencePiece.
      if (special.has(token)) {
        text += this.target.decodePieces(pieces) + token + ' ';
        pieces = [];
      } else {
        pieces.push(token);
      }
    }
    text = (text + this.target.decodePieces(pieces)).replaceAll(SPIECE_UNDERLINE, ' ').trim();
    return (options.cleanUpTokenizationSpaces ?? this.cleanUp) ? cleanUpTokenization(text) : text;
  }
}

/** Split `text` around special tokens (longest first at each position). */
function splitSpecial(text: string, specials: readonly string[]): { text: string; special: boolean }[] {
  const sorted = [...specials].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  const chunks: { text: string; special: boolean }[] = [];
  let plain = 0;
  for (let i = 0; i < text.length; ) {
    const match = sorted.find((s) => text.startsWith(s, i));
    if (!match) {
      i++;
      continue;
    }
    if (i > plain) chunks.push({ text: text.slice(plain, i), special: false });
    chunks.push({ text: match, special: true });
    i += match.length;
    plain = i;
  }
  if (plain < text.length) chunks.push({ text: text.slice(plain), special: false });
  return chunks;
}

/** HF's `clean_up_tokenization`: no space before punctuation and English contractions. */
function cleanUpTokenization(text: string): string {
  const rules: [string, string][] = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];
  return rules.reduce((t, [from, to]) => t.replaceAll(from, to), text);
}

function parseJsonObject(value: string | Readonly<Record<string, unknown>>, where: string): Record<string, unknown> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new TokenizerError(`${where}: not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TokenizerError(`${where}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

/** vocab.json: piece → id, the ids numbering the embedding's rows 0 … N − 1 (so no id reaches N). */
function parseVocab(value: string | Readonly<Record<string, number>>, where: string): Map<string, number> {
  const vocab = new Map<string, number>();
  const entries = Object.entries(parseJsonObject(value, where));
  for (const [piece, id] of entries) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length) {
      throw new TokenizerError(`${where}: ${jsonForMessage(piece)} has id ${jsonForMessage(id)}, not an integer in [0, ${entries.length}) (the file holds ${entries.length} pieces)`);
    }
    vocab.set(piece, id as number);
  }
  return vocab;
}

/** A special token from tokenizer_config.json: a string, or an AddedToken object with "content". */
function tokenContent(value: unknown, fallback: string, where: string): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  throw new TokenizerError(`${where}: expected a token string or {"content": ...}`);
}
