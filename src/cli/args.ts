/**
 * A small argument parser for the `tessera` CLI: `--name value`, `--name=value`, boolean
 * `--flag`, and positional arguments. Each command declares its options, so unknown or
 * malformed options are reported by name instead of being ignored.
 */
export interface OptionSpec {
  type: 'string' | 'number' | 'boolean' | 'ids';
  help: string;
  default?: string | number | boolean;
}

export type ParsedArgs = { positional: string[]; options: Record<string, string | number | boolean | number[] | undefined> };

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArgs(argv: readonly string[], specs: Record<string, OptionSpec>): ParsedArgs {
  const positional: string[] = [];
  const options: ParsedArgs['options'] = {};
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) options[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (/^-[a-zA-Z]$/.test(arg)) throw new UsageError(`unknown option '${arg}'`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq > 0 ? eq : undefined);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option '--${name}' (options: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`);
    if (spec.type === 'boolean') {
      if (eq > 0) throw new UsageError(`option '--${name}' takes no value`);
      options[name] = true;
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`option '--${name}' needs a value`);
    options[name] = convert(name, spec, raw);
  }
  return { positional, options };
}

function convert(name: string, spec: OptionSpec, raw: string): string | number | number[] {
  if (spec.type === 'string') return raw;
  if (spec.type === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`option '--${name}' needs a number, got '${raw}'`);
    return n;
  }
  const ids = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (ids.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError(`option '--${name}' needs comma-separated token ids, got '${raw}'`);
  return ids;
}

export function usage(command: string, synopsis: string, specs: Record<string, OptionSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const value = s.type === 'boolean' ? '' : s.type === 'ids' ? ' 1,2,3' : ` <${s.type}>`;
    const def = s.default !== undefined && s.type !== 'boolean' ? ` (default ${s.default})` : '';
    return `  --${name}${value}`.padEnd(28) + s.help + def;
  });
  return [`usage: tessera ${command} ${synopsis}`, '', ...rows].join('\n');
}
