/**
 * The short fuzz run of `npm test`: a few thousand seeded cases over every loader (docs/fuzzing.md).
 * The long run is `npm run fuzz`.
 */

import { expect, test } from 'vitest';
import { runFuzz } from './engine.ts';

test('4,000 fuzzed loader inputs: each accepted or refused with a typed error naming its file', async () => {
  const summary = await runFuzz({ seed: 17, cases: 4000 });
  const bugs = summary.bugs.map((b) => `case ${b.caseIndex} [${b.target}] ${b.kind}: ${b.message.slice(0, 300)}`);
  expect(bugs).toEqual([]);
  expect(summary.cases).toBe(4000);
  // Every loader is reached, and each both accepts some mutants and refuses others.
  for (const [name, t] of Object.entries(summary.perTarget)) {
    expect(t.cases, name).toBeGreaterThan(50);
    expect(t.refused, name).toBeGreaterThan(0);
  }
}, 60_000);
