#!/usr/bin/env node
// The `tessera` command line. Each command lives in src/cli/<name>.ts and declares its options.
import { UsageError } from './cli/args.ts';
import { commands } from './cli/commands.ts';

// A reader that stops early (`tessera generate ... | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(
      ['usage: tessera <command> [options]', '', 'commands:', ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`), '', 'Every command takes --help; model commands take --profile.'].join('\n') + '\n',
    );
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`tessera: ${err instanceof UsageError ? '' : `${err.name}: `}${err.message}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
