/**
 * The long fuzz run: `npm run fuzz -- --cases 100000 --seed 1` (see docs/fuzzing.md).
 * Prints progress, then a summary: cases, accepted, refused with a typed error, bugs (uncaught or
 * untyped exceptions, engine failures wrapped in typed errors, messages that do not name the file),
 * hangs over 5 s, and peak RSS. `--case K` replays one case; `--target NAME` fuzzes one loader.
 * Exits 1 when any bug was found or the peak RSS reached 1 GB.
 */

import { runFuzz } from './engine.ts';

function option(name: string): string | undefined {
  const i = process.argv.lastIndexOf(`--${name}`); // the last wins, so `npm run fuzz -- --cases N` overrides the script's
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seed = Number(option('seed') ?? 1);
const cases = Number(option('cases') ?? 100_000);
const only = option('case') === undefined ? undefined : Number(option('case'));
const targets = option('target')?.split(',');
const RSS_LIMIT = 1024 ** 3;

const summary = await runFuzz({
  seed, cases, only, targets,
  onProgress(done, s) {
    if (done % 10_240 === 0 && done > 0) console.log(`  ${done} cases, ${s.bugs.length} bugs, rss ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MiB`);
  },
});

for (const bug of summary.bugs.slice(0, 50)) {
  console.log(`BUG case ${bug.caseIndex} [${bug.target}] ${bug.kind}: ${bug.message.slice(0, 300)}`);
  if (only !== undefined && bug.stack) console.log(bug.stack);
}
if (summary.bugs.length > 50) console.log(`... and ${summary.bugs.length - 50} more bugs`);
console.log('per target:');
for (const [name, t] of Object.entries(summary.perTarget)) console.log(`  ${name.padEnd(20)} ${String(t.cases).padStart(7)} cases  ${String(t.accepted).padStart(6)} accepted  ${String(t.refused).padStart(7)} refused  ${t.bugs} bugs`);
const uncaught = summary.bugs.filter((b) => b.kind !== 'hang').length;
console.log(
  `fuzz seed ${seed}: ${summary.cases} cases in ${summary.seconds.toFixed(1)} s, ${summary.accepted} accepted, ${summary.refused} refused with typed errors, ` +
    `${uncaught} uncaught or untyped exceptions, ${summary.hangs} hangs > 5 s (slowest case ${summary.slowestCase}: ${summary.slowestMs.toFixed(0)} ms), ` +
    `peak RSS ${(summary.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
);
process.exitCode = summary.bugs.length > 0 || summary.peakRssBytes >= RSS_LIMIT ? 1 : 0;
