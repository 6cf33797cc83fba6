"""BLEU fixtures: the training script's tokenize_13a and corpus_bleu (nltk), on tricky text and corpora.

    /usr/bin/python3 tools/reference/bleu_cases.py     # ~3 s; writes test/fixtures/bleu.json

`tessera eval --model multi30k-marian` computes BLEU with src/cli/bleu.ts, which must give the figure
tools/train/multi30k_marian.py gives (nltk's corpus_bleu: 4-gram, uniform weights, no smoothing, one
reference, case-sensitive, over sacrebleu's "13a" tokens). This script calls that script's own
`tokenize_13a` and `corpus_bleu`, so the fixture is what training measures, and records:

  tokenize   strings that exercise each rule of 13a: punctuation and symbols, periods and commas next to
             digits or not, a dash after a digit, the four SGML entities it unescapes (and ones it
             leaves), <skipped>, line breaks, umlauts and non-ASCII punctuation (not split), characters
             outside the BMP, and the whitespace that Python's str.split() splits on (\\x1c-\\x1f, \\x85
             and the Unicode spaces, but not U+FEFF);
  bleu       corpora (hypotheses, references) with nltk's BLEU in percent and its corpus counts (clipped
             n-gram matches and n-gram totals per order, hypothesis and closest-reference lengths): a
             real sample of test_2016_flickr references with seeded perturbations of them as hypotheses,
             one with no 4-gram match (nltk then gives ~1e-75, not exactly 0), short hypotheses (brevity
             penalty; shorter than 4 tokens, whose n-gram totals count as 1), an empty hypothesis,
             repeated words (clipping), no match at all (exactly 0) and longer hypotheses (no penalty).
"""

import gzip
import json
import os
import random
import sys
import warnings

from nltk.translate.bleu_score import closest_ref_length, modified_precision

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "train"))
from multi30k_marian import corpus_bleu, tokenize_13a  # noqa: E402  (the training script's BLEU)
from common import data_dir  # noqa: E402

OUT = os.path.join(REPO, "test", "fixtures", "bleu.json")
SAMPLE = 40  # test_2016_flickr references in the fixture

TOKENIZE = [
    "Ein Mann fährt auf einem Fahrrad.",
    'Zwei Männer, die "Fußball" spielen; ein Hund (braun) schaut zu!',
    "It costs $1,000.50 or 3.5% - about 2-3 days, i.e. 48h.",
    "A man -- in a red-and-white shirt -- jumps; 1990-2000 or 7 -8 or 9- 4.",
    "&quot;Hi&quot; &amp; &lt;b&gt; &apos;x&apos; &#39;y&#39; &nbsp;z &amp;quot;",
    "AT&T's U.S.A. e.g. etc. ... end.",
    "Größe: 1.80 m, 2,5 kg...fertig!Ärger?Öl/Übel",
    "<skipped>A line-\nbroken across\nthree lines",
    "  leading and   trailing spaces\t tab  ",
    "Tabs\tand\x1cunit\x1dgroup\x1erecord\x1fseparators\x85next\xa0nbsp\u2009thin\u3000ideo\ufeffbom\u200bzw",
    "Ünïcödé — em – en … ‚quotes‘ „Anführungszeichen“ «guillemets» ß",
    "x.y,z 3.x x.3 3,x .5 5. ,5 5, 3.4.5 1,2,3 a.b.c",
    "Emoji 😀. and 𝔘𝔫𝔦.code, 😀,5 😀-1",
    "{braces}[brackets](parens)~`^_|\\@#*+=/<>:;?!'$%&",
    "-5 - -3 9- 9 -9- 10--20 a-b 3-a",
    "end.\n",
    "carriage\rreturn\r\nand crlf",
    "",
    "   ",
]


def perturb(line, rng, strength):
    """A plausible wrong translation of `line`: words dropped, swapped, replaced, lower-cased, and the
    final period lost or changed, each with probability `strength`."""
    words = line.split()
    out = []
    for w in words:
        r = rng.random()
        if r < strength / 3:
            continue  # dropped
        if r < 2 * strength / 3:
            w = rng.choice(["einem", "der", "die", "Mann", "Frau", "ist", "und", "Hund", "läuft", "am"])
        elif r < strength:
            w = w.lower()
        out.append(w)
    for i in range(len(out) - 1):
        if rng.random() < strength / 2:
            out[i], out[i + 1] = out[i + 1], out[i]
    text = " ".join(out)
    if text.endswith(".") and rng.random() < strength:
        text = text[:-1] + rng.choice(["", " .", "!", ","])
    return text


def nltk_counts(hypotheses, references):
    """nltk's corpus sums: per order n = 1..4, clipped matches and n-gram totals (at least 1 per
    sentence), and the hypothesis and closest-reference lengths, on 13a tokens."""
    matches, totals, hyp_len, ref_len = [0] * 4, [0] * 4, 0, 0
    for h, r in zip(hypotheses, references):
        hyp, refs = tokenize_13a(h), [tokenize_13a(r)]
        for n in range(1, 5):
            p = modified_precision(refs, hyp, n)
            matches[n - 1] += p.numerator
            totals[n - 1] += p.denominator
        hyp_len += len(hyp)
        ref_len += closest_ref_length(refs, len(hyp))
    return {"matches": matches, "totals": totals, "hypothesis_length": hyp_len, "reference_length": ref_len}


def bleu_case(name, hypotheses, references):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on a zero n-gram precision, the case we want
        bleu = corpus_bleu(hypotheses, references)
    return {"name": name, "hypotheses": hypotheses, "references": references, "bleu": bleu, **nltk_counts(hypotheses, references)}


def main():
    with gzip.open(os.path.join(data_dir(), "multi30k", "test_2016_flickr.de.gz"), "rt", encoding="utf-8") as f:
        refs = [line.rstrip("\n") for line in f][:SAMPLE]
    rng = random.Random(7)
    # no 4-gram can match: a token absent from every reference after every third 13a token
    no_4gram = [" ".join(t if (i + 1) % 3 else t + " XYZ" for i, t in enumerate(tokenize_13a(r))) for r in refs[:10]]
    cases = [
        bleu_case("identical", refs, refs),
        bleu_case("perturbed, light", [perturb(r, rng, 0.15) for r in refs], refs),
        bleu_case("perturbed, heavy", [perturb(r, rng, 0.5) for r in refs], refs),
        bleu_case("no 4-gram match", no_4gram, refs[:10]),
        bleu_case("short hypotheses", [" ".join(r.split()[: 1 + i % 5]) for i, r in enumerate(refs[:12])], refs[:12]),
        bleu_case("one empty hypothesis", [""] + refs[1:6], refs[:6]),
        bleu_case("all hypotheses empty", ["", ""], refs[:2]),
        bleu_case("repeated words", ["der der der der der der der", "Ein Mann Ein Mann Ein Mann ."], ["Der Mann und der Hund und der Ball.", "Ein Mann läuft."]),
        bleu_case("no match", ["x y z", "q"], refs[:2]),
        bleu_case("longer hypotheses", [r + " und noch ein Satz, der 3,5 Wörter hat." for r in refs[:8]], refs[:8]),
        bleu_case("case-sensitive", [r.lower() for r in refs[:8]], refs[:8]),
    ]
    assert cases[3]["matches"][3] == 0 and cases[3]["matches"][2] > 0 and 0 < cases[3]["bleu"] < 1e-60
    assert cases[4]["hypothesis_length"] < cases[4]["reference_length"]
    assert cases[8]["bleu"] == 0
    fixture = {
        "about": "tools/reference/bleu_cases.py: tools/train/multi30k_marian.py's tokenize_13a and corpus_bleu (nltk, percent)",
        "tokenize": [{"text": t, "tokens": tokenize_13a(t)} for t in TOKENIZE],
        "bleu": cases,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, REPO)} ({os.path.getsize(OUT)} bytes): "
          + ", ".join(f"{c['name']} {c['bleu']:.6g}" for c in cases))


if __name__ == "__main__":
    main()
