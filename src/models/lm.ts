/**
 * A decoder-only language model on the GPU: its weights (uploaded once and shared by every graph,
 * and by the twin that guidance runs), its sequence state (the KV cache, the token, the position:
 * lm/kv-cache.ts) and the sessions compiled from its graphs (lm/graphs.ts), kept per shape and
 * logit mask. Prefill runs in power-of-two chunks; decoding is generate()'s (lm/generate.ts).
 * Every public call takes its turn on a SerialQueue (docs/runtime.md, Concurrency).
 * Elsewhere: loading (lm/loader.ts); generate()'s options and plan (lm/options.ts), strategies
 * (lm/generate.ts, lm/greedy.ts) and logits processors (lm/logits-processor.ts, lm/guidance.ts);
 * the small-Llama one-kernel step (lm/llama-step.ts).
 */

import type { Gpu } from '../device/gpu.ts';
import { LimitError, ShapeError } from '../device/errors.ts';
import type { Tensor } from '../device/tensor.ts';
import type { GraphBuilder } from '../graph/builder.ts';
import { compile } from '../graph/compile.ts';
import { SerialQueue } from '../runtime/serial.ts';
import { Session } from '../runtime/session.ts';
import type { HostTensor } from './checkpoint.ts';
import type { LmConfig, ModelFamily } from './decoder.ts';
import type { GenerationConfig } from './generation-config.ts';
import { generateTokens, planGeneration } from './lm/generate.ts';
import { attentionMapsGraph, cropAttentionMap, decodeGraph, prefillGraph, type GraphSource } from './lm/graphs.ts';
import { SequenceState } from './lm/kv-cache.ts';
import { llamaStepFor, type LlamaStep } from './lm/llama-step.ts';
import { readCheckpoint, readModelFiles, type LoadOptions, type ModelBuffers } from './lm/loader.ts';
import { logitMaskValues, type LogitMask } from './lm/logits-processor.ts';
import type { GeneratedToken, GenerateOptions } from './lm/options.ts';
import type { Sequence } from './lm/sequence.ts';
import type { Tokenizer } from './tokenizers/tokenizer.ts';

export interface LogitsOptions {
  /** Feed the tokens one at a time through the decode graph and its KV cache (checks that path). */
  incremental?: boolean;
}

/** Tokens per prefill run at most. */
const MAX_PREFILL_CHUNK = 256;

const pow2Ceil = (n: number) => 2 ** Math.ceil(Math.log2(n));
const pow2Floor = (n: number) => 2 ** Math.floor(Math.log2(n));

export class LanguageModel {
  /** The KV-cache length: the longest sequence this instance can process. */
  readonly maxContext: number;
  private readonly weights = new Map<string, Tensor>();
  /** The KV cache, the next token, its position and the greedy history (lm/kv-cache.ts). */
  private readonly state: SequenceState;
  /** The one-kernel decode step, when this model uses it (lm/llama-step.ts). */
  private readonly step: LlamaStep | null;
  /** False for a twin: the weights belong to the model it was made from. */
  private readonly ownsWeights: boolean;
  /** A second sequence over the same weights, made on first use: the unconditional side of guidance. */
  private twin: LanguageModel | null = null;
  private readonly sessions = new Map<string, Session>();
  private readonly profiles = new Map<string, string>();
  /** f32 [V] per LogitMask key (logitMaskValues), added to the decode logits. */
  private readonly logitMasks = new Map<string, Tensor>();
  /** One call at a time, in call order (docs/runtime.md, Concurrency): all calls share the cache. */
  private readonly queue = new SerialQueue('LanguageModel');
  private readonly sequence: Sequence;
  private readonly graphs: GraphSource;

  private constructor(
    readonly gpu: Gpu,
    readonly config: LmConfig,
    private readonly family: ModelFamily,
    weights: ReadonlyMap<string, HostTensor> | LanguageModel,
    readonly tokenizer: Tokenizer | undefined,
    /**
     * The generation defaults (`generate`'s options override them): a Hugging Face folder's
     * generation_config.json, else its config.json's keys, over HF's defaults; for a llama2.c
     * checkpoint, Tessera's (256 new tokens, greedy, stop at BOS, as run.c).
     */
    readonly generationConfig: Readonly<GenerationConfig>,
    private readonly options: LoadOptions,
  ) {
    this.ownsWeights = !(weights instanceof LanguageModel);
    const max = options.maxContext ?? config.contextLength;
    if (!Number.isInteger(max) || max < 1 || max > config.contextLength) {
      throw new LimitError(`LanguageModel: maxContext ${max} must be an integer in [1, ${config.contextLength}] (the model's context length)`);
    }
    this.maxContext = max;
    const owned: { destroy(): void }[] = [];
    try {
      if (weights instanceof LanguageModel) {
        // A twin: the weight tensors of the model it was made from, and a sequence state of its own.
        for (const [name, tensor] of weights.weights) this.weights.set(name, tensor);
        this.step = weights.step;
      } else {
        const uploaded = new Map<HostTensor, Tensor>(); // tied weights are one HostTensor: upload it once
        for (const [name, host] of weights) {
          let tensor = uploaded.get(host);
          if (!tensor) {
            tensor = gpu.upload(host.data, host.shape, 'f32');
            uploaded.set(host, tensor);
            owned.push(tensor);
          }
          this.weights.set(name, tensor);
        }
        this.step = llamaStepFor(gpu, config, weights, options.fusedDecode !== false);
        if (this.step) owned.push(this.step.weights);
      }
      this.state = new SequenceState(gpu, config, max);
    } catch (err) {
      for (const t of owned) t.destroy();
      throw err;
    }
    this.sequence = this.sequenceOf();
    this.graphs = { config, family, weights: this.weights, state: this.state, step: this.step, logitMask: (mask) => this.logitMask(mask) };
  }

  /**
   * Node: load a Hugging Face folder (config.json + model.safetensors, and tokenizer files:
   * tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe, or a llama2.c tok*.bin),
   * a llama2.c `.bin` checkpoint, or a folder holding one `.bin` model and its `tok*.bin` tokenizer.
   */
  static async load(gpu: Gpu, path: string, options: LoadOptions = {}): Promise<LanguageModel> {
    return LanguageModel.fromBuffers(gpu, await readModelFiles(path), options);
  }

  /**
   * Browser or Node: a model from bytes already in memory (fetched, or read by `load`; give
   * `generationConfig` when the folder has a generation_config.json).
   */
  static async fromBuffers(gpu: Gpu, buffers: ModelBuffers, options: LoadOptions = {}): Promise<LanguageModel> {
    const { config, family, weights, generation } = readCheckpoint(buffers, options);
    return new LanguageModel(gpu, config, family, weights, buffers.tokenizer, generation, options);
  }

  // ---- graphs ---------------------------------------------------------------------------------

  private async session(key: string, build: () => GraphBuilder): Promise<Session> {
    let session = this.sessions.get(key);
    if (!session) {
      session = await Session.create(this.gpu, compile(build()));
      this.sessions.set(key, session);
    }
    return session;
  }

  private prefillSession(T: number, logits: boolean): Promise<Session> {
    return this.session(`prefill_${T}${logits ? '_logits' : ''}`, () => prefillGraph(this.graphs, T, logits));
  }

  private decodeSession(mode: 'greedy' | 'logits' | { topK: number }, mask: LogitMask | null): Promise<Session> {
    const name = typeof mode === 'string' ? mode : `top${mode.topK}`;
    return this.session(`decode_${name}${mask ? `_${mask.key}` : ''}`, () => decodeGraph(this.graphs, mode, mask));
  }

  private logitMask(mask: LogitMask): Tensor {
    let tensor = this.logitMasks.get(mask.key);
    if (!tensor) {
      tensor = this.gpu.upload(logitMaskValues(mask, this.config.vocabSize), [this.config.vocabSize]);
      this.logitMasks.set(mask.key, tensor);
    }
    return tensor;
  }

  // ---- running --------------------------------------------------------------------------------

  /** Run a graph once; the first run under each label is profiled when the model was loaded with `profile`. */
  private async run(session: Session, label: string, inputs: Record<string, Int32Array | Uint32Array>, download: string[]) {
    if (this.options.profile && !this.profiles.has(label)) {
      const result = await session.run(inputs, { download, profile: true });
      this.profiles.set(label, session.profileTable());
      return result;
    }
    return session.run(inputs, { download });
  }

  /** Largest prefill chunk (a power of two) whose logits fit one storage binding. */
  private get maxLogitsChunk(): number {
    const rows = Math.floor(this.gpu.limits.maxStorageBufferBindingSize / (4 * this.config.vocabSize));
    if (rows < 1) throw new LimitError(`LanguageModel: one row of logits (${this.config.vocabSize} floats) exceeds the storage binding limit`);
    return Math.min(MAX_PREFILL_CHUNK, pow2Floor(rows));
  }

  /**
   * Run `tokens` at positions start.. through prefill graphs, filling the cache; with `logits`,
   * return their logits [tokens.length, V]. Chunks are powers of two, the last one right-padded
   * unless the padding would run past the cache (then it is cut into exact powers of two).
   */
  private async prefill(tokens: readonly number[], start: number, logits: boolean): Promise<Float32Array | null> {
    const V = this.config.vocabSize;
    const out = logits ? new Float32Array(tokens.length * V) : null;
    const maxChunk = logits ? this.maxLogitsChunk : MAX_PREFILL_CHUNK;
    for (let done = 0; done < tokens.length;) {
      const pos = start + done;
      const remaining = tokens.length - done;
      let T = Math.min(maxChunk, pow2Ceil(remaining));
      if (pos + T > this.maxContext) T = Math.min(maxChunk, pow2Floor(remaining));
      const n = Math.min(T, remaining);
      const ids = new Int32Array(T);
      ids.set(tokens.slice(done, done + n));
      const session = await this.prefillSession(T, logits);
      this.state.setPosition(pos, pos + T);
      const result = await this.run(session, `prefill (${T} tokens)`, { ids }, logits ? ['logits'] : []);
      out?.set((result.logits as Float32Array).subarray(0, n * V), done * V);
      done += n;
    }
    return out;
  }

  private checkLength(n: number, what: string): void {
    if (n > this.maxContext) {
      throw new LimitError(`${what} of ${n} tokens is longer than the context of ${this.maxContext} tokens${this.maxContext < this.config.contextLength ? ` (maxContext; the model allows ${this.config.contextLength})` : ''}`);
    }
  }

  private checkIds(ids: readonly number[]): void {
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new ShapeError(`token id ${id} at index ${i} is not in the model's vocabulary [0, ${this.config.vocabSize})`);
      }
    });
  }

  /** The full logits [T, V] of a token sequence, row t predicting token t + 1. */
  logits(ids: readonly number[], options: LogitsOptions = {}): Promise<Float32Array> {
    return this.queue.run(async () => {
      if (ids.length === 0) throw new ShapeError('logits: the sequence is empty');
      this.checkLength(ids.length, 'logits: the sequence');
      this.checkIds(ids);
      if (!options.incremental) return (await this.prefill(ids, 0, true))!;
      const V = this.config.vocabSize;
      const out = new Float32Array(ids.length * V);
      const session = await this.decodeSession('logits', null);
      for (let t = 0; t < ids.length; t++) {
        this.state.feed(ids[t]!, t);
        const result = await this.run(session, 'decode (1 token)', {}, ['logits']);
        out.set(result.logits as Float32Array, t * V);
      }
      return out;
    });
  }

  /**
   * What each attention head looks at, for a token sequence: maps[layer] is [numHeads, T, T]
   * (row-major), row i holding the weights query i puts on keys 0..i (zero above the diagonal).
   * The probabilities come from the attention kernel itself (its opt-in probability output), in
   * one prefill graph whose outputs are every layer's probabilities; the sequence must fit one
   * prefill chunk. The KV cache is overwritten, like any `logits()` call.
   */
  attentionMaps(ids: readonly number[]): Promise<Float32Array[]> {
    return this.queue.run(async () => {
      const n = ids.length;
      if (n === 0) throw new ShapeError('attentionMaps: the sequence is empty');
      this.checkLength(n, 'attentionMaps: the sequence');
      if (n > MAX_PREFILL_CHUNK) throw new LimitError(`attentionMaps: the sequence of ${n} tokens is longer than one prefill chunk (${MAX_PREFILL_CHUNK} tokens)`);
      this.checkIds(ids);
      // A padded power-of-two chunk (at least 2: one token would take the fused decode path,
      // which has no probability output), or the whole cache where the padding would not fit.
      const T = Math.min(Math.max(2, pow2Ceil(n)), this.maxContext);
      if (T < 2) throw new LimitError('attentionMaps: needs a KV cache of at least 2 tokens (maxContext)');
      const session = await this.session(`attention_maps_${T}`, () => attentionMapsGraph(this.graphs, T));
      const padded = new Int32Array(T);
      padded.set(ids);
      this.state.setPosition(0, T);
      const names = Array.from({ length: this.config.numLayers }, (_, layer) => `probs.${layer}`);
      const result = await this.run(session, `attention maps (${T} tokens)`, { ids: padded }, names);
      return names.map((name) => cropAttentionMap(result[name] as Float32Array, this.config.numHeads, T, this.maxContext, n));
    });
  }

  /** The ids a prompt starts from: text is encoded (with BOS where the model wants it); an empty prompt starts from BOS/<|endoftext|>. */
  encodePrompt(prompt: string | readonly number[]): number[] {
    let ids: number[];
    if (typeof prompt === 'string') {
      if (!this.tokenizer) throw new Error('LanguageModel: this model has no tokenizer; give the prompt as token ids');
      ids = this.tokenizer.encode(prompt);
      if (this.config.bos !== undefined) ids.unshift(this.config.bos);
    } else {
      ids = [...prompt];
    }
    if (ids.length === 0) {
      if (this.config.startId === undefined) throw new ShapeError('generate: the prompt is empty and the model has no start token');
      ids = [this.config.startId];
    }
    this.checkIds(ids);
    return ids;
  }

  /**
   * Stream new tokens after `prompt` (text, or token ids). Options not given come from the model's
   * generation config (`generationConfig`), as Hugging Face's generate() takes them for a
   * decoder-only model: the length (max_new_tokens, else max_length counting the prompt),
   * min_new_tokens / min_length, do_sample with temperature, top_k and top_p, the EOS ids,
   * bad_words_ids and forced_eos_token_id. There is no beam search (num_beams is warned about at load).
   */
  async *generate(prompt: string | readonly number[], options: GenerateOptions = {}): AsyncGenerator<GeneratedToken> {
    const ids = this.encodePrompt(prompt);
    const generation = planGeneration(this.sequence, this.generationConfig, ids, options);
    const release = await this.queue.acquire();
    try {
      yield* generateTokens(this.sequence, this.tokenizer, ids, generation);
    } finally {
      release();
    }
  }

  /** This model's sequence as the generation strategies and logits processors drive it (lm/sequence.ts). */
  private sequenceOf(): Sequence {
    return {
      gpu: this.gpu,
      config: this.config,
      maxContext: this.maxContext,
      history: this.state.history,
      profiling: (label) => !!this.options.profile && !this.profiles.has(label),
      checkLength: (n, what) => this.checkLength(n, what),
      checkIds: (ids) => this.checkIds(ids),
      start: (ids) => this.start(ids),
      feed: (id, position) => this.state.feed(id, position),
      logits: async (mask) => (await this.run(await this.decodeSession('logits', mask), 'decode (1 token)', {}, ['logits'])).logits as Float32Array,
      topK: async (k, mask) => {
        const result = await this.run(await this.decodeSession({ topK: k }, mask), 'decode (1 token)', {}, ['values', 'indices']);
        return { values: result.values as Float32Array, indices: result.indices as Int32Array };
      },
      greedySession: async (mask) => ({ session: await this.decodeSession('greedy', mask), fused: this.step !== null && !mask }),
      run: (session, label, inputs, download) => this.run(session, label, inputs, download),
      twin: () => (this.twin ??= new LanguageModel(this.gpu, this.config, this.family, this, this.tokenizer, this.generationConfig, this.options)).sequence,
    };
  }

  /**
   * A new sequence: `ids` but the last fill the cache, and the last is the first decode step's
   * input. Returns the position of that input.
   */
  private async start(ids: readonly number[]): Promise<number> {
    await this.prefill(ids.slice(0, -1), 0, false);
    const position = ids.length - 1;
    this.state.feed(ids[position]!, position);
    return position;
  }

  /** The per-node profiles recorded with `{ profile: true }` (first prefill chunk and first decode step). */
  profileTable(): string {
    if (this.profiles.size === 0) return '(no profile: load the model with { profile: true } and run it)';
    return [...this.profiles].map(([label, table]) => `${this.config.family} ${label}\n${table}`).join('\n\n');
  }

  /** Rejects queued and later calls; frees the weights, the cache and every compiled graph once the running call ends. */
  destroy(): void {
    void this.queue.close(() => this.free());
  }

  private free(): void {
    this.twin?.destroy();
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
    this.state.destroy();
    const owned = new Set<{ destroy(): void }>(this.logitMasks.values());
    if (this.ownsWeights) {
      for (const t of this.weights.values()) owned.add(t);
      if (this.step) owned.add(this.step.weights);
    }
    for (const t of owned) t.destroy();
  }
}
