/**
 * `tessera logits`: the model's full next-token logits for every position of a sequence, as a float32
 * [T, V] `.npy` file (row t scores the token after ids[0..t]); load it with `np.load(path)`.
 */
import { writeFileSync } from 'node:fs';
import { ShapeError } from '../device/errors.ts';
import { encodeNpy } from '../runtime/npy.ts';
import { parseArgs, usage, UsageError, type OptionSpec } from './args.ts';
import type { Command } from './commands.ts';
import { loadModel, modelOptions } from './model.ts';

const options: Record<string, OptionSpec> = {
  ...modelOptions,
  ids: { type: 'ids', help: 'the sequence as token ids (or give a text prompt)' },
  out: { type: 'string', help: 'where to write the [T, V] float32 logits (.npy)' },
  help: { type: 'boolean', help: 'show this help' },
};

const SYNOPSIS = '--model DIR (--ids 1,2,3 | "text") --out logits.npy';

export const logits: Command = {
  summary: 'write the full-sequence logits of a language model as .npy',
  async run(argv) {
    const { positional, options: o } = parseArgs(argv, options);
    if (o.help) {
      process.stdout.write(usage('logits', SYNOPSIS, options) + '\n');
      return 0;
    }
    const ids = o.ids as number[] | undefined;
    const out = o.out as string | undefined;
    if (out === undefined) throw new UsageError("option '--out' is required (the .npy file to write)");
    if (positional.length > 1) throw new UsageError(`logits takes one prompt, got ${positional.length} arguments (quote the prompt)`);
    if (ids && positional.length > 0) throw new UsageError("give a text prompt or '--ids', not both");
    if (!ids && positional.length === 0) throw new UsageError(`logits needs '--ids' or a text prompt\n${usage('logits', SYNOPSIS, options)}`);
    if (ids && ids.length === 0) throw new UsageError("option '--ids' needs at least one token id");

    const model = await loadModel(o);
    try {
      const { lm } = model;
      let sequence = ids;
      if (!sequence) {
        if (!lm.tokenizer) throw new UsageError(`model '${o.model}' has no tokenizer: give the sequence as '--ids'`);
        sequence = lm.tokenizer.encode(positional[0]!);
        if (sequence.length === 0) throw new UsageError('the prompt encodes to no tokens');
      }
      const values = await lm.logits(sequence).catch((err: Error) => {
        throw err instanceof ShapeError ? new UsageError(`logits: ${err.message}`) : err; // e.g. an id outside the vocabulary
      });
      const T = sequence.length;
      writeFileSync(out, encodeNpy(values, [T, values.length / T]));
    } finally {
      model.close();
    }
    return 0;
  },
};
