// BLEU as the translator's training script computes it: src/cli/bleu.ts against the script's own
// tokenize_13a and nltk's corpus_bleu (fixture: tools/reference/bleu_cases.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { corpusBleu, corpusBleuStats, tokenize13a } from '../src/cli/bleu.ts';

interface BleuCase {
  name: string;
  hypotheses: string[];
  references: string[];
  bleu: number;
  matches: number[];
  totals: number[];
  hypothesis_length: number;
  reference_length: number;
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/bleu.json'), 'utf8')) as {
  tokenize: { text: string; tokens: string[] }[];
  bleu: BleuCase[];
};

describe('tokenize13a', () => {
  test.each(fixture.tokenize.map((c) => [JSON.stringify(c.text), c] as const))('%s', (_, c) => {
    expect(tokenize13a(c.text)).toEqual(c.tokens);
  });
});

describe('corpusBleu', () => {
  test.each(fixture.bleu.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const s = corpusBleuStats(c.hypotheses, c.references);
    expect(s.matches).toEqual(c.matches);
    expect(s.totals).toEqual(c.totals);
    expect([s.hypothesisLength, s.referenceLength]).toEqual([c.hypothesis_length, c.reference_length]);
    expect(Math.abs(s.bleu - c.bleu)).toBeLessThanOrEqual(1e-9);
    // and to the last bits, also where nltk's "zero" is ~1e-75 (a precision of 0 taken as 2.2e-308)
    if (c.bleu === 0) expect(s.bleu).toBe(0);
    else expect(Math.abs(s.bleu / c.bleu - 1)).toBeLessThan(1e-13);
    expect(corpusBleu(c.hypotheses, c.references)).toBe(s.bleu);
  });

  test('the fixture covers what it claims: perfect, no 4-gram match, brevity penalty, nothing at all', () => {
    const byName = Object.fromEntries(fixture.bleu.map((c) => [c.name, c]));
    expect(byName['identical']!.bleu).toBe(100);
    expect(byName['no 4-gram match']!.matches[3]).toBe(0);
    expect(byName['no 4-gram match']!.bleu).toBeGreaterThan(0);
    expect(byName['short hypotheses']!.hypothesis_length).toBeLessThan(byName['short hypotheses']!.reference_length);
    expect(byName['no match']!.bleu).toBe(0);
  });

  test('hypotheses and references must pair up', () => {
    expect(() => corpusBleu(['a'], ['a', 'b'])).toThrow('BLEU: 1 hypotheses for 2 references');
  });
});
