/**
 * A Marian translator on the GPU (Hugging Face `MarianMTModel` folders: OPUS-MT and the like),
 * from source ids or text to target ids and text, with greedy and beam search.
 *
 * The weights are uploaded once. Graphs are compiled per shape and kept:
 *  - an encoder plan per (B sources, Ts padded source length): its session writes every decoder
 *    layer's cross-attention keys and values for the batch, and its key mask tensor is shared with
 *    the decoder;
 *  - a decoder plan per (B, beams, Ts, cache capacity): the token ids, the position, the beam
 *    reordering and the self-attention KV caches live in tensors owned by the plan and bound as
 *    constants, so a step is one `run()` with no inputs; beam search has two step sessions that
 *    reorder the cache from one set of buffers into the other, turn about.
 * Source lengths are rounded up to powers of two and capacities likewise, so the few shapes of a
 * batch job share their sessions.
 */

import { LimitError, ShapeError } from '../../device/errors.ts';
import type { Gpu } from '../../device/gpu.ts';
import type { Tensor } from '../../device/tensor.ts';
import { GraphBuilder } from '../../graph/builder.ts';
import { compile } from '../../graph/compile.ts';
import type { Value } from '../../graph/graph.ts';
import { SerialQueue } from '../../runtime/serial.ts';
import { Session } from '../../runtime/session.ts';
import { loadExpectedTensors, type HostTensor } from '../checkpoint.ts';
import { CheckpointError } from '../errors.ts';
import { readGenerationConfigFile } from '../generation-config.ts';
import { listDirectory, readFileBytes, readFileText } from '../io.ts';
import { parseSafetensors } from '../safetensors.ts';
import { MarianTokenizer } from '../tokenizers/marian.ts';
import { marianConfig, marianExpected, marianPrepare, type MarianConfig } from './config.ts';
import { ignoredKeysWarning, marianGeneration, type MarianGeneration } from './generation.ts';
import { buildDecoderStep, buildEncoder } from './graphs.ts';
import { BeamSearch, GreedySearch, type Search, type SearchResult, type SearchSettings } from './search.ts';

/** What translation needs from a tokenizer (MarianTokenizer: source.spm + target.spm + vocab.json). */
export interface TranslationTokenizer {
  /** Source text → ids, ending with EOS. */
  encode(text: string): number[];
  /** Target ids → text (special tokens skipped). */
  decode(ids: readonly number[]): string;
}

export interface MarianBuffers {
  /** The parsed `config.json`. */
  config: Record<string, unknown>;
  /**
   * The parsed `generation_config.json`, when the model folder has one: then it alone gives the
   * generation defaults, as in HF (else `config.json`'s generation keys do).
   */
  generationConfig?: Record<string, unknown> | null;
  weights: ArrayBuffer | ArrayBufferView;
  tokenizer?: TranslationTokenizer;
  /** Named in error messages. */
  source?: string;
}

export interface MarianLoadOptions {
  /** Used instead of the folder's tokenizer files (`load` only). */
  tokenizer?: TranslationTokenizer;
  /** Profile the first encoder run and the first decoder step of each shape, for `profileTable()`. */
  profile?: boolean;
  /**
   * Told once, at load, when the generation config sets keys Tessera does not implement (e.g.
   * `repetition_penalty`, `do_sample`): the message names them and says they are ignored.
   * Default: console.warn.
   */
  onWarning?: (message: string) => void;
}

/**
 * Each option overrides the model's generation config (`model.generation`: generation_config.json,
 * else config.json), as generate(**kwargs) does in HF.
 */
export interface TranslateOptions {
  /** Beams (1 = greedy search); default the generation config's num_beams. */
  numBeams?: number;
  /** Tokens to generate at most, EOS included (HF max_new_tokens); default max_new_tokens, else max_length − 1. */
  maxNewTokens?: number;
  /** EOS is banned before this many tokens are generated (HF min_new_tokens); default min_new_tokens, else min_length − 1. */
  minNewTokens?: number;
  /** Beam scores are divided by length ^ lengthPenalty; default the generation config's length_penalty. */
  lengthPenalty?: number;
  /** When beam search stops (HF early_stopping); default the generation config's. */
  earlyStopping?: boolean | 'never';
  /** The token forced at the last position (HF forced_eos_token_id); null turns it off; default the generation config's. */
  forcedEosId?: number | null;
  /** Sources run together on the GPU, at most (default 8). */
  batchSize?: number;
  /** Called after each batch with the number of inputs done. */
  onProgress?: (done: number, total: number) => void;
}

/** Cross-attention of a translation, from `crossAttention`. */
export interface CrossAttention {
  /** Per decoder layer, Float32Array [heads, target.length, source.length]: row t is where the decoder looked while predicting target[t]. */
  layers: Float32Array[];
  heads: number;
}

export interface Translation extends SearchResult {
  /** The decoded text, when the model has a tokenizer. */
  text?: string;
}

const MIN_SOURCE_BUCKET = 8;
const DEFAULT_BATCH = 8;
const pow2Ceil = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

interface EncoderPlan {
  session: Session;
  /** u32 [B, Ts]: 1 for source tokens, 0 for padding. */
  mask: Tensor;
}

interface DecoderPlan {
  /** step[0] appends to the first cache set; beam search's step[1] to the second, reordering from the other. */
  steps: Session[];
  ids: Tensor;
  position: Tensor;
  kvLength: Tensor;
  sources: Tensor;
  /** Everything above and the KV caches, freed with the plan. */
  owned: Tensor[];
}

export class MarianModel {
  private readonly weights = new Map<string, Tensor>();
  private readonly encoders = new Map<string, EncoderPlan>();
  private readonly decoders = new Map<string, DecoderPlan>();
  private readonly profiles = new Map<string, string>();
  /** One call at a time, in call order (docs/runtime.md, Concurrency): calls share the caches. */
  private readonly queue = new SerialQueue('MarianModel');

  private constructor(
    readonly gpu: Gpu,
    readonly config: MarianConfig,
    /** The generation defaults, resolved as HF resolves them (generation.ts); TranslateOptions override them per call. */
    readonly generation: MarianGeneration,
    weights: ReadonlyMap<string, HostTensor>,
    readonly tokenizer: TranslationTokenizer | undefined,
    private readonly options: MarianLoadOptions,
  ) {
    const uploaded = new Map<HostTensor, Tensor>(); // tied weights are one HostTensor: upload it once
    try {
      for (const [name, host] of weights) {
        let tensor = uploaded.get(host);
        if (!tensor) {
          tensor = gpu.upload(host.data, host.shape, 'f32');
          uploaded.set(host, tensor);
        }
        this.weights.set(name, tensor);
      }
    } catch (err) {
      for (const t of uploaded.values()) t.destroy();
      throw err;
    }
  }

  // ---- loading ------------------------------------------------------------------------------

  /**
   * Node: a Hugging Face Marian folder (config.json + model.safetensors). Its generation defaults
   * come from generation_config.json when the folder has one, else from config.json (as in HF).
   * Its tokenizer files (source.spm, target.spm, vocab.json) are loaded as a MarianTokenizer when
   * present, unless `tokenizer` is given; without either the model translates token ids.
   */
  static async load(gpu: Gpu, path: string, options: MarianLoadOptions = {}): Promise<MarianModel> {
    const folder = path.replace(/[\\/]+$/, '');
    const entries = await listDirectory(folder);
    if (entries === null) throw new CheckpointError(`'${folder}' is not a folder (a Marian model is a folder with config.json and model.safetensors)`);
    for (const need of ['config.json', 'model.safetensors']) {
      if (!entries.includes(need)) throw new CheckpointError(`'${folder}' has no ${need} (a Marian model folder holds config.json and model.safetensors${need === 'model.safetensors' && entries.includes('pytorch_model.bin') ? '; convert pytorch_model.bin to safetensors' : ''})`);
    }
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(await readFileText(`${folder}/config.json`)) as Record<string, unknown>;
    } catch (err) {
      throw new CheckpointError(`'${folder}/config.json' is not valid JSON (${(err as Error).message})`);
    }
    const generationConfig = await readGenerationConfigFile(folder, entries);
    const weights = await readFileBytes(`${folder}/model.safetensors`);
    const hasTokenizer = ['source.spm', 'target.spm', 'vocab.json'].every((f) => entries.includes(f));
    const tokenizer = options.tokenizer ?? (hasTokenizer ? await MarianTokenizer.fromDirectory(folder) : undefined);
    return MarianModel.fromBuffers(gpu, { config, generationConfig, weights, tokenizer, source: `${folder}/model.safetensors` }, options);
  }

  /** Browser or Node: a model from bytes already in memory (give `generationConfig` when the folder has a generation_config.json). */
  static async fromBuffers(gpu: Gpu, buffers: MarianBuffers, options: MarianLoadOptions = {}): Promise<MarianModel> {
    const config = marianConfig(buffers.config);
    const generation = marianGeneration(config, buffers.config, buffers.generationConfig);
    const source = buffers.source ?? 'model.safetensors';
    const file = parseSafetensors(buffers.weights, source);
    const tensors = loadExpectedTensors(file, marianExpected(config));
    const warning = ignoredKeysWarning(generation);
    if (warning) (options.onWarning ?? console.warn)(warning);
    return new MarianModel(gpu, config, generation, marianPrepare(config, tensors, source), buffers.tokenizer, options);
  }

  // ---- plans --------------------------------------------------------------------------------

  private builder(name: string): { g: GraphBuilder; weight: (name: string) => Value } {
    const g = new GraphBuilder(name);
    const values = new Map<Tensor, Value>();
    const weight = (key: string) => {
      const tensor = this.weights.get(key);
      if (!tensor) throw new Error(`marian graph: no weight '${key}'`);
      if (!values.has(tensor)) values.set(tensor, g.constant(key, tensor));
      return values.get(tensor)!;
    };
    return { g, weight };
  }

  private async encoderPlan(B: number, Ts: number): Promise<EncoderPlan> {
    const key = `${B}x${Ts}`;
    let plan = this.encoders.get(key);
    if (!plan) {
      const mask = this.gpu.empty([B, Ts], 'u32');
      try {
        const { g, weight } = this.builder(`marian_encoder_${key}`);
        buildEncoder(g, this.config, weight, g.input('ids', [B, Ts], 'i32'), g.constant('source_mask', mask));
        plan = { session: await Session.create(this.gpu, compile(g)), mask };
      } catch (err) {
        mask.destroy();
        throw err;
      }
      this.encoders.set(key, plan);
    }
    return plan;
  }

  /** With `crossProbs`, the step sessions also output each layer's cross-attention probabilities `cross_probs.<i>`. */
  private async decoderPlan(encoder: EncoderPlan, B: number, beams: number, Ts: number, capacity: number, crossProbs = false): Promise<DecoderPlan> {
    const key = `${B}x${beams}x${Ts}x${capacity}${crossProbs ? '_cross_probs' : ''}`;
    let plan = this.decoders.get(key);
    if (plan) return plan;
    const c = this.config;
    const N = B * beams;
    const owned: Tensor[] = [];
    const own = (t: Tensor) => (owned.push(t), t);
    const steps: Session[] = [];
    try {
      const ids = own(this.gpu.upload(new Int32Array(N), [N, 1], 'i32'));
      const position = own(this.gpu.upload(new Uint32Array(1), [1], 'u32'));
      const kvLength = own(this.gpu.upload(new Uint32Array(1), [1], 'u32'));
      const sources = own(this.gpu.upload(Int32Array.from({ length: N }, (_, i) => i), [N], 'i32'));
      // A cache set is [k per layer, v per layer]; beam search ping-pongs between two sets.
      const cacheSet = () => Array.from({ length: c.decoderLayers }, () => own(this.gpu.empty([N, capacity, c.dim])));
      const sets = beams > 1 ? [[cacheSet(), cacheSet()], [cacheSet(), cacheSet()]] : [[cacheSet(), cacheSet()]];
      for (let s = 0; s < sets.length; s++) {
        const { g, weight } = this.builder(`marian_decoder_${key}${sets.length > 1 ? `_${s}` : ''}`);
        const constants = (tensors: Tensor[], name: string) => tensors.map((t, i) => g.constant(`${name}.${i}`, t));
        const [k, v] = sets[s]!;
        const other = sets[1 - s];
        const logits = buildDecoderStep(g, c, weight, {
          ids: g.constant('ids', ids),
          position: g.constant('position', position),
          kvLength: g.constant('kv_length', kvLength),
          k: constants(k!, 'k_cache'),
          v: constants(v!, 'v_cache'),
          reorder: other ? { k: constants(other[0]!, 'k_previous'), v: constants(other[1]!, 'v_previous'), sources: g.constant('sources', sources) } : undefined,
          crossK: Array.from({ length: c.decoderLayers }, (_, i) => g.constant(`cross_k.${i}`, encoder.session.output(`cross_k.${i}`))),
          crossV: Array.from({ length: c.decoderLayers }, (_, i) => g.constant(`cross_v.${i}`, encoder.session.output(`cross_v.${i}`))),
          sourceMask: g.constant('source_mask', encoder.mask),
        }, beams, crossProbs ? (i, probs) => g.output(`cross_probs.${i}`, probs) : undefined);
        g.output('logits', logits);
        steps.push(await Session.create(this.gpu, compile(g)));
      }
      plan = { steps, ids, position, kvLength, sources, owned };
    } catch (err) {
      for (const s of steps) s.destroy();
      for (const t of owned) t.destroy();
      throw err;
    }
    this.decoders.set(key, plan);
    return plan;
  }

  // ---- running --------------------------------------------------------------------------------

  private checkSources(sources: readonly (readonly number[])[]): void {
    sources.forEach((ids, s) => {
      if (ids.length === 0) throw new ShapeError(`source ${s} is empty (a Marian source ends with EOS ${this.config.eosId} at least)`);
      if (ids.length > this.config.maxPositions) {
        throw new LimitError(`source ${s} has ${ids.length} tokens, more than the model's ${this.config.maxPositions} positions (max_position_embeddings)`);
      }
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new ShapeError(`source ${s}: token id ${id} at index ${i} is not in the vocabulary [0, ${this.config.vocabSize})`);
        }
      });
    });
  }

  /** Run the encoder on a batch (right-padded): the cross-attention K/V stay on the GPU for the decoder. */
  private async encode(sources: readonly (readonly number[])[]): Promise<{ plan: EncoderPlan; Ts: number }> {
    const B = sources.length;
    const longest = Math.max(...sources.map((s) => s.length));
    const Ts = Math.min(this.config.maxPositions, Math.max(MIN_SOURCE_BUCKET, pow2Ceil(longest)));
    const plan = await this.encoderPlan(B, Ts);
    const ids = new Int32Array(B * Ts).fill(this.config.padId);
    const mask = new Uint32Array(B * Ts);
    sources.forEach((s, b) => {
      ids.set(s, b * Ts);
      mask.fill(1, b * Ts, b * Ts + s.length);
    });
    this.gpu.write(plan.mask, mask);
    await this.run(plan.session, `encoder (${B} × ${Ts} tokens)`, { ids }, []);
    return { plan, Ts };
  }

  /** One decoder step: feed `tokens` at `position` (rows continuing rows `sources`), return logits [N, V]. */
  private async step(plan: DecoderPlan, parity: number, tokens: Int32Array, sources: Int32Array, position: number): Promise<Float32Array> {
    this.gpu.write(plan.ids, tokens);
    this.gpu.write(plan.sources, sources);
    this.gpu.write(plan.position, [position]);
    this.gpu.write(plan.kvLength, [position + 1]);
    const session = plan.steps[parity % plan.steps.length]!;
    const rows = plan.ids.shape[0]!;
    return (await this.run(session, `decoder step (${rows} row${rows > 1 ? 's' : ''}${plan.steps.length > 1 ? ', beam reorder' : ''})`, {}, ['logits'])).logits as Float32Array;
  }

  /** Run a graph once; the first run under each label is profiled when the model was loaded with `profile`. */
  private async run(session: Session, label: string, inputs: Record<string, Int32Array>, download: string[]) {
    if (this.options.profile && !this.profiles.has(label)) {
      const result = await session.run(inputs, { download, profile: true });
      this.profiles.set(label, session.profileTable());
      return result;
    }
    return session.run(inputs, { download });
  }

  /** The per-node profiles recorded with `{ profile: true }` (first encoder run and decoder step per shape). */
  profileTable(): string {
    if (this.profiles.size === 0) return '(no profile: load the model with { profile: true } and run it)';
    return [...this.profiles].map(([label, table]) => `marian ${label}\n${table}`).join('\n\n');
  }

  /**
   * Teacher-forced logits: for each source, the decoder fed `decoder[b]` (all the same length,
   * starting with the decoder start token) one token at a time through the KV cache; returns
   * per source a Float32Array [T, V] whose row t predicts decoder token t + 1.
   */
  logits(sources: readonly (readonly number[])[], decoder: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.queue.run(async () => {
      this.checkSources(sources);
      if (decoder.length !== sources.length) throw new ShapeError(`logits: ${sources.length} sources but ${decoder.length} decoder sequences`);
      const T = decoder[0]?.length ?? 0;
      if (T === 0 || decoder.some((d) => d.length !== T)) throw new ShapeError('logits: the decoder sequences must be non-empty and all of one length');
      if (T > this.config.maxPositions) throw new LimitError(`logits: ${T} decoder tokens exceed the model's ${this.config.maxPositions} positions`);
      const V = this.config.decoderVocabSize;
      decoder.forEach((d, b) => d.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new ShapeError(`logits: decoder ${b}: token id ${id} at index ${t} is not in the vocabulary [0, ${V})`);
      }));
      const B = sources.length;
      const { plan: encoder, Ts } = await this.encode(sources);
      const plan = await this.decoderPlan(encoder, B, 1, Ts, Math.min(this.config.maxPositions, pow2Ceil(T)));
      const out = sources.map(() => new Float32Array(T * V));
      const identity = Int32Array.from({ length: B }, (_, i) => i);
      for (let t = 0; t < T; t++) {
        const logits = await this.step(plan, 0, Int32Array.from(decoder, (d) => d[t]!), identity, t);
        out.forEach((o, b) => o.set(logits.subarray(b * V, (b + 1) * V), t * V));
      }
      return out;
    });
  }

  /**
   * The decoder's cross-attention over `source` while it produces `target` (ids as `generate`
   * returns them, without the start token): the decoder is fed the start token and target[:-1]
   * one step at a time, and each layer's attention probabilities over the source tokens are kept.
   * This is the alignment matrix between target and source tokens.
   */
  crossAttention(source: readonly number[], target: readonly number[]): Promise<CrossAttention> {
    return this.queue.run(async () => {
      this.checkSources([source]);
      const c = this.config;
      const T = target.length;
      if (T === 0) throw new ShapeError('crossAttention: the target is empty');
      if (T > c.maxPositions) throw new LimitError(`crossAttention: ${T} target tokens exceed the model's ${c.maxPositions} positions`);
      target.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= c.decoderVocabSize) {
          throw new ShapeError(`crossAttention: target token id ${id} at index ${t} is not in the vocabulary [0, ${c.decoderVocabSize})`);
        }
      });
      const { plan: encoder, Ts } = await this.encode([source]);
      const plan = await this.decoderPlan(encoder, 1, 1, Ts, Math.min(c.maxPositions, pow2Ceil(T)), true);
      const heads = c.decoderHeads;
      const S = source.length;
      const layers = Array.from({ length: c.decoderLayers }, () => new Float32Array(heads * T * S));
      const names = layers.map((_, i) => `cross_probs.${i}`);
      const inputs = [this.generation.decoderStartId, ...target.slice(0, -1)];
      for (let t = 0; t < T; t++) {
        this.gpu.write(plan.ids, [inputs[t]!]);
        this.gpu.write(plan.sources, [0]);
        this.gpu.write(plan.position, [t]);
        this.gpu.write(plan.kvLength, [t + 1]);
        const result = await this.run(plan.steps[0]!, 'decoder step (cross-attention probabilities)', {}, names);
        // probs [1, heads, 1, Ts]: keep the source's S columns (the padding's are 0) as row t of each head.
        layers.forEach((layer, i) => {
          const probs = result[names[i]!] as Float32Array;
          for (let h = 0; h < heads; h++) layer.set(probs.subarray(h * Ts, h * Ts + S), (h * T + t) * S);
        });
      }
      return { layers, heads };
    });
  }

  /** Run only the encoder on a batch and wait for it (its cross-attention K/V stay on the GPU): for timing. */
  encodeOnly(sources: readonly (readonly number[])[]): Promise<void> {
    return this.queue.run(async () => {
      this.checkSources(sources);
      await this.encode(sources);
    });
  }

  /** The search settings of a call: options over the generation defaults, as generate(**kwargs) in HF. */
  private settings(options: TranslateOptions): SearchSettings {
    const c = this.config;
    const g = this.generation;
    const numBeams = options.numBeams ?? g.numBeams;
    if (!Number.isInteger(numBeams) || numBeams < 1) throw new RangeError(`numBeams must be an integer ≥ 1, got ${numBeams}`);
    const maxNewTokens = options.maxNewTokens ?? g.maxNewTokens;
    // Every input token but the last generated one takes a position: start + maxNewTokens − 1.
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > c.maxPositions) {
      throw new RangeError(`maxNewTokens must be an integer in [1, ${c.maxPositions}] (the model's positions), got ${maxNewTokens}`);
    }
    const minNewTokens = options.minNewTokens ?? g.minNewTokens;
    if (!Number.isInteger(minNewTokens) || minNewTokens < 0) throw new RangeError(`minNewTokens must be an integer ≥ 0, got ${minNewTokens}`);
    const lengthPenalty = options.lengthPenalty ?? g.lengthPenalty;
    if (!Number.isFinite(lengthPenalty)) throw new RangeError(`lengthPenalty must be a finite number, got ${lengthPenalty}`);
    const earlyStopping = options.earlyStopping ?? g.earlyStopping;
    if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') throw new RangeError(`earlyStopping must be true, false or 'never', got ${JSON.stringify(earlyStopping)}`);
    const forced = options.forcedEosId;
    if (forced != null && !(Number.isInteger(forced) && forced >= 0 && forced < c.decoderVocabSize)) {
      throw new RangeError(`forcedEosId ${forced} is not in the vocabulary [0, ${c.decoderVocabSize})`);
    }
    return {
      numBeams,
      maxLength: 1 + maxNewTokens,
      minLength: 1 + minNewTokens,
      lengthPenalty,
      earlyStopping,
      eosIds: g.eosIds,
      padId: g.padId,
      decoderStartId: g.decoderStartId,
      badWords: g.badWordsIds,
      forcedEosIds: forced === undefined ? g.forcedEosIds : forced === null ? [] : [forced],
      renormalizeLogits: g.renormalizeLogits,
    };
  }

  /** Decode one batch of sources together on the GPU. */
  private async generateBatch(sources: readonly (readonly number[])[], s: SearchSettings): Promise<SearchResult[]> {
    const B = sources.length;
    const beams = s.numBeams;
    const V = this.config.decoderVocabSize;
    const { plan: encoder, Ts } = await this.encode(sources);
    const capacity = Math.min(this.config.maxPositions, pow2Ceil(s.maxLength - 1));
    const plan = await this.decoderPlan(encoder, B, beams, Ts, capacity);
    const search: Search = beams > 1 ? new BeamSearch(B, V, s) : new GreedySearch(B, V, s);
    let next = search.start();
    for (let position = 0; !search.done; position++) {
      const logits = await this.step(plan, position, next.tokens, next.sources, position);
      next = search.step(logits);
    }
    return search.results();
  }

  /**
   * Translate source token ids (each ending with EOS, as the tokenizer makes them). Sources are
   * sorted by length and run `batchSize` at a time; results come back in the input order.
   */
  generate(sources: readonly (readonly number[])[], options: TranslateOptions = {}): Promise<SearchResult[]> {
    return this.queue.run(async () => {
      this.checkSources(sources);
      const s = this.settings(options);
      const batchSize = options.batchSize ?? DEFAULT_BATCH;
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer ≥ 1, got ${batchSize}`);
      const order = sources.map((_, i) => i).sort((a, b) => sources[a]!.length - sources[b]!.length || a - b);
      const results: SearchResult[] = new Array(sources.length);
      for (let at = 0; at < order.length; at += batchSize) {
        const chunk = order.slice(at, at + batchSize);
        const out = await this.generateBatch(chunk.map((i) => sources[i]!), s);
        chunk.forEach((i, k) => (results[i] = out[k]!));
        options.onProgress?.(Math.min(order.length, at + batchSize), order.length);
      }
      return results;
    });
  }

  /** Translate texts (needs a tokenizer) or id lists; returns ids, score (beam search) and text. */
  async translate(inputs: readonly (string | readonly number[])[], options: TranslateOptions = {}): Promise<Translation[]> {
    const sources = inputs.map((input, i) => {
      if (typeof input !== 'string') return input;
      if (!this.tokenizer) throw new Error(`MarianModel: input ${i} is text but this model has no tokenizer; give token ids`);
      return this.tokenizer.encode(input);
    });
    const results = await this.generate(sources, options);
    const tokenizer = this.tokenizer;
    return tokenizer ? results.map((r) => ({ ...r, text: tokenizer.decode(r.ids) })) : results;
  }

  /** Reject queued and later calls; free the weights, caches and every compiled graph once the running call ends. */
  destroy(): void {
    void this.queue.close(() => this.free());
  }

  private free(): void {
    for (const plan of this.decoders.values()) {
      for (const s of plan.steps) s.destroy();
      for (const t of plan.owned) t.destroy();
    }
    for (const plan of this.encoders.values()) {
      plan.session.destroy();
      plan.mask.destroy();
    }
    this.decoders.clear();
    this.encoders.clear();
    for (const t of new Set(this.weights.values())) t.destroy();
  }
}
