import { createDevice } from '../device/gpu.ts';
import { parseArgs, usage, type OptionSpec } from './args.ts';
import { generate } from './generate.ts';
import { logits } from './logits.ts';
import { imagine } from './imagine.ts';
import { classify } from './classify.ts';
import { translate } from './translate.ts';
import { evaluate } from './eval.ts';

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const infoOptions: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print the report as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** `tessera info`: which adapter WebGPU gave us, its features and limits. */
const info: Command = {
  summary: 'show the WebGPU adapter, features and limits in use',
  async run(argv) {
    const { options } = parseArgs(argv, infoOptions);
    if (options.help) {
      process.stdout.write(usage('info', '[--json]', infoOptions) + '\n');
      return 0;
    }
    const gpu = await createDevice();
    const r = gpu.report;
    if (options.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      process.stdout.write(`adapter: ${r.adapter.description || r.adapter.device} (${r.adapter.vendor}, ${r.adapter.architecture}${r.adapter.isFallbackAdapter ? ', fallback' : ''})\n`);
      process.stdout.write(`features: ${r.features.join(', ') || 'none'}\n`);
      for (const [k, v] of Object.entries(r.limits)) process.stdout.write(`${k}: ${v}\n`);
    }
    gpu.destroy();
    return 0;
  },
};

export const commands: Record<string, Command> = { info, generate, logits, imagine, classify, translate, eval: evaluate };
