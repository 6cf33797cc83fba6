/**
 * `tessera generate`: continue a prompt with a language model.
 *
 *   tessera generate --model DIR "Once upon a time"        streams the text to stdout
 *   tessera generate --model DIR --ids 1,2,3 --json        prints {"ids": [...], "text": "..."}
 *   tessera generate --model DIR --input in.jsonl --output out.jsonl
 *
 * Text mode echoes a text prompt, streams the continuation as tokens arrive and ends with one newline
 * (as llama2.c's run.c does), so the shell prompt starts on its own line. `--json` and batch mode report
 * only the new tokens. In batch mode the command-line sampling options are the defaults for every line;
 * a line's own options override them; results go out a whole line at a time, and `--resume` picks an
 * interrupted batch up where it stopped (src/cli/batch-output.ts).
 *
 * Defaults come from the model's generation config, as Hugging Face's generate() takes them: the
 * folder's generation_config.json, else config.json's keys, else HF's defaults (max_length 20
 * counting the prompt, greedy; top_k 50 when sampling); a llama2.c checkpoint generates 256 tokens
 * greedily. Every option overrides its key.
 */
import { readFileSync } from 'node:fs';
import { ShapeError } from '../device/errors.ts';
import type { LanguageModel } from '../models/lm.ts';
import type { GenerateOptions } from '../models/lm/options.ts';
import { BatchOutput, resumeOption } from './batch-output.ts';
import { parseArgs, usage, UsageError, type OptionSpec, type ParsedArgs } from './args.ts';
import type { Command } from './commands.ts';
import { loadModel, modelOptions, writeStdout } from './model.ts';
import { ProgressBar } from './progress.ts';
import { jsonForMessage } from '../models/errors.ts';

const options: Record<string, OptionSpec> = {
  ...modelOptions,
  'max-new-tokens': { type: 'number', help: 'tokens to generate (fewer if the model stops or the context ends)' },
  'min-new-tokens': { type: 'number', help: 'no EOS before this many new tokens' },
  temperature: { type: 'number', help: '0 = greedy; above 0 samples at this temperature (higher = more random)' },
  'top-k': { type: 'number', help: 'sample among the k most likely tokens (0 = all)' },
  'top-p': { type: 'number', help: 'sample among the most likely tokens holding probability p (1 = all)' },
  sample: { type: 'boolean', help: "sample (do_sample), at the generation config's temperature unless --temperature is given" },
  greedy: { type: 'boolean', help: 'greedy decoding, whatever the generation config says' },
  seed: { type: 'number', help: 'random seed, for reproducible sampling (default: random)' },
  ids: { type: 'ids', help: 'prompt as token ids instead of text' },
  json: { type: 'boolean', help: 'print {"ids": [...], "text": "..."} of the new tokens instead of streaming text' },
  input: { type: 'string', help: 'batch mode: a JSONL file of {"prompt": "..."} or {"ids": [...]} lines' },
  output: { type: 'string', help: 'batch mode: where to write one {"ids", "text"} line per input line (default stdout); each line is written whole, so Ctrl-C leaves only finished results' },
  resume: resumeOption,
  help: { type: 'boolean', help: 'show this help' },
};

const SYNOPSIS = '--model DIR [options] ("prompt" | --ids 1,2,3 | --input prompts.jsonl [--output out.jsonl])';

const DEFAULTS_NOTE = `Defaults come from the model's generation config, as Hugging Face's generate() reads it:
generation_config.json, else config.json's keys, else HF's defaults (max_length 20 counting the
prompt, greedy; when sampling temperature 1, top_k 50, top_p 1). A llama2.c .bin generates 256
tokens greedily. Each option overrides its key: --max-new-tokens max_new_tokens / max_length,
--min-new-tokens min_new_tokens / min_length, --sample / --greedy do_sample, --temperature
(0 = greedy, above 0 samples), --top-k, --top-p. EOS ids, bad_words_ids and forced_eos_token_id
come from the config; num_beams and keys Tessera does not implement are named in a warning.`;

/** How to generate one continuation: each setting given overrides the model's generation config. */
export type Sampling = Pick<GenerateOptions, 'maxNewTokens' | 'minNewTokens' | 'doSample' | 'temperature' | 'topK' | 'topP' | 'seed'>;

type NumberSetting = Exclude<keyof Sampling, 'doSample'>;

type Prompt = string | number[];

/** The per-line keys of a batch file and the command-line option each one mirrors. */
const LINE_OPTIONS: Record<string, keyof Sampling> = {
  max_new_tokens: 'maxNewTokens',
  min_new_tokens: 'minNewTokens',
  do_sample: 'doSample',
  temperature: 'temperature',
  top_k: 'topK',
  top_p: 'topP',
  seed: 'seed',
};

/** Checks one sampling setting; `where` names it in errors (an option, or a key on a line). */
function checkSetting(key: NumberSetting, value: unknown, where: string): number {
  const n = value as number;
  const ok = typeof value === 'number' && Number.isFinite(n) && {
    maxNewTokens: Number.isInteger(n) && n >= 1,
    minNewTokens: Number.isInteger(n) && n >= 0,
    temperature: n >= 0,
    topK: Number.isInteger(n) && n >= 0,
    topP: n > 0 && n <= 1,
    seed: Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
  }[key];
  if (!ok) {
    const need = {
      maxNewTokens: 'an integer >= 1',
      minNewTokens: 'an integer >= 0',
      temperature: 'a number >= 0',
      topK: 'an integer >= 0',
      topP: 'a number in (0, 1]',
      seed: 'an integer in [0, 2^32)',
    }[key];
    throw new UsageError(`${where} needs ${need}, got ${jsonForMessage(value)}`);
  }
  return n;
}

const FLAGS: [NumberSetting, string][] = [
  ['maxNewTokens', 'max-new-tokens'],
  ['minNewTokens', 'min-new-tokens'],
  ['temperature', 'temperature'],
  ['topK', 'top-k'],
  ['topP', 'top-p'],
  ['seed', 'seed'],
];

function samplingFromOptions(o: ParsedArgs['options']): Sampling {
  const s: Sampling = {};
  for (const [key, flag] of FLAGS) if (o[flag] !== undefined) s[key] = checkSetting(key, o[flag], `option '--${flag}'`);
  if (o.sample && o.greedy) throw new UsageError("give '--sample' or '--greedy', not both");
  if (o.greedy && s.temperature !== undefined && s.temperature > 0) throw new UsageError(`'--greedy' does not sample: drop '--temperature ${s.temperature}'`);
  if (o.sample) s.doSample = true;
  if (o.greedy) s.doSample = false;
  return s;
}

interface BatchItem {
  line: number;
  prompt: Prompt;
  sampling: Sampling;
}

/** Parses a whole batch file before any model work, so a bad line fails fast, naming its number. */
export function parseBatch(text: string, file: string, defaults: Sampling): BatchItem[] {
  const items: BatchItem[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const where = `${file} line ${line}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UsageError(`${where}: expected an object like {"prompt": "..."} or {"ids": [...]}`);
    }
    const record = value as Record<string, unknown>;
    const sampling: Sampling = { ...defaults };
    let prompt: Prompt | undefined;
    for (const [key, v] of Object.entries(record)) {
      if (key === 'prompt') {
        if (typeof v !== 'string') throw new UsageError(`${where}: "prompt" must be a string`);
        prompt = v;
      } else if (key === 'ids') {
        if (!Array.isArray(v) || v.length === 0 || v.some((id) => !Number.isInteger(id) || id < 0)) {
          throw new UsageError(`${where}: "ids" must be a non-empty array of token ids (integers >= 0)`);
        }
        prompt = v as number[];
      } else if (key === 'do_sample') {
        if (typeof v !== 'boolean') throw new UsageError(`${where}: "do_sample" must be true or false, got ${jsonForMessage(v)}`);
        sampling.doSample = v;
      } else if (key in LINE_OPTIONS) {
        const setting = LINE_OPTIONS[key] as NumberSetting;
        sampling[setting] = checkSetting(setting, v, `${where}: "${key}"`);
        // A line's temperature decides greedy or sampling over the command line's --sample / --greedy.
        if (setting === 'temperature' && !('do_sample' in record)) delete sampling.doSample;
      } else {
        throw new UsageError(`${where}: unknown key "${key}" (keys: prompt, ids, ${Object.keys(LINE_OPTIONS).join(', ')})`);
      }
    }
    if ('prompt' in record && 'ids' in record) throw new UsageError(`${where}: give "prompt" or "ids", not both`);
    if (prompt === undefined) throw new UsageError(`${where}: needs "prompt" (text) or "ids" (token ids)`);
    items.push({ line, prompt, sampling });
  });
  return items;
}

interface Token {
  id: number;
  text: string;
}

/**
 * Runs one generation, calling `onToken` as each new token arrives. The model checks what only it
 * knows (e.g. top-k's limit, the vocabulary): its RangeErrors become usage errors, prefixed by `where`
 * in batch mode.
 */
async function generateOne(lm: LanguageModel, prompt: Prompt, s: Sampling, where: string | null, onToken?: (token: Token) => void): Promise<{ ids: number[]; text: string }> {
  const ids: number[] = [];
  let text = '';
  const stream = lm.generate(prompt, {
    maxNewTokens: s.maxNewTokens,
    minNewTokens: s.minNewTokens,
    doSample: s.doSample,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    seed: s.seed,
  });
  try {
    for await (const token of stream) {
      ids.push(token.id);
      text += token.text;
      onToken?.(token);
    }
  } catch (err) {
    if (err instanceof RangeError || err instanceof ShapeError) throw new UsageError(`${where ? `${where}: ` : ''}${err.message}`);
    throw err;
  }
  return { ids, text };
}

export const generate: Command = {
  summary: 'generate text with a language model (streaming, --json, or batch --input)',
  async run(argv) {
    const { positional, options: o } = parseArgs(argv, options);
    if (o.help) {
      process.stdout.write(usage('generate', SYNOPSIS, options) + '\n\n' + DEFAULTS_NOTE + '\n');
      return 0;
    }
    const sampling = samplingFromOptions(o);
    const ids = o.ids as number[] | undefined;
    const input = o.input as string | undefined;
    if (positional.length > 1) throw new UsageError(`generate takes one prompt, got ${positional.length} arguments (quote the prompt)`);
    const given = [positional.length === 1 && 'a prompt', ids && "'--ids'", input !== undefined && "'--input'"].filter(Boolean);
    if (given.length === 0) throw new UsageError(`generate needs a prompt, '--ids' or '--input'\n${usage('generate', SYNOPSIS, options)}`);
    if (given.length > 1) throw new UsageError(`give only one of a prompt, '--ids' and '--input' (got ${given.join(' and ')})`);
    if (ids && ids.length === 0) throw new UsageError("option '--ids' needs at least one token id");
    if (o.output !== undefined && input === undefined) throw new UsageError("option '--output' needs '--input' (batch mode)");
    if (o.resume && input === undefined) throw new UsageError("option '--resume' needs '--input' and '--output' (batch mode)");
    if (o.json && input !== undefined) throw new UsageError("option '--json' is for a single prompt; batch mode always writes JSON lines");

    let batch: BatchItem[] | undefined;
    let out: BatchOutput | undefined;
    if (input !== undefined) {
      let text: string;
      try {
        text = readFileSync(input, 'utf8');
      } catch (err) {
        throw new UsageError(`option '--input': cannot read '${input}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      batch = parseBatch(text, input, sampling);
      out = BatchOutput.open({ path: o.output as string | undefined, resume: o.resume === true, total: batch.length });
      if (out.done === batch.length) {
        out.close();
        return 0;
      }
    }

    try {
      const model = await loadModel(o);
      try {
        const { lm } = model;
        const needsTokenizer = batch ? batch.some((item) => typeof item.prompt === 'string') : !ids;
        if (needsTokenizer && !lm.tokenizer) throw new UsageError(`model '${o.model}' has no tokenizer: give the prompt as token ids (--ids, or "ids" lines)`);
        const prompt: Prompt = ids ?? positional[0]!;

        if (batch) {
          const progress = new ProgressBar(batch.length, 'generate');
          if (out!.done > 0) progress.tick(out!.done);
          for (const item of batch.slice(out!.done)) {
            out!.write(await generateOne(lm, item.prompt, item.sampling, `${input} line ${item.line}`));
            progress.tick();
          }
        } else if (o.json) {
          await writeStdout(JSON.stringify(await generateOne(lm, prompt, sampling, null)) + '\n');
        } else {
          // Text mode: echo a text prompt, then stream. Without a tokenizer there is no text: stream the ids.
          if (typeof prompt === 'string') process.stdout.write(prompt);
          let count = 0;
          const show = lm.tokenizer ? (t: Token) => t.text : (t: Token) => (count++ === 0 ? '' : ' ') + t.id;
          await generateOne(lm, prompt, sampling, null, (t) => process.stdout.write(show(t)));
          await writeStdout('\n');
        }
      } finally {
        model.close();
      }
    } finally {
      out?.close();
    }
    return 0;
  },
};
