"""A tiny GPT-2 whose generation defaults live in generation_config.json, with golden greedy
`generate()` outputs as Hugging Face computes them (lm_models.generate: transformers 4.40-4.45).

    /usr/bin/python3 tools/reference/make_lm_genconfig_fixtures.py

test/fixtures/models/gpt2-tiny-genconfig/:
- config.json: make_lm_fixtures.py's GPT-2 (vocabulary 97, 64 positions), without generation keys;
- generation_config.json: max_length (counting the prompt), min_new_tokens, two EOS ids,
  bad_words_ids with one single-token and one two-token word (and a word that is a single EOS id,
  which HF drops), forced_eos_token_id, pad and bos ids;
- model.safetensors: seeded random weights (GPT2LMHeadModel names);
- golden.json: { "generation_config": the file's contents,
    "cases": [ { "name", "prompt", "kwargs": generate(**kwargs) over the file (HF key names),
                 "ids": HF's generated ids, up to and with the EOS that ended them,
                 "ended_by": "eos" (the last id is an EOS id) | "max_length",
                 "plain": plain greedy (no processors) for as many tokens as "ids" } ] }

Case "file" (prompt A) runs with the file alone: it stops on the second EOS id after the
min_new_tokens ban kept the first one out, and both bad words change it. Case "forced" (prompt B)
reaches max_length and ends with the forced EOS. The other cases turn one setting off or change it
through kwargs (min_new_tokens 0, no bad words, one EOS id only, no forced EOS, max_new_tokens),
and each must give other ids than the case it varies, so every processor is shown to matter. The
script tries prompts until every decision is clear by more than MARGIN (top-1/top-2 gaps of the
processed scores), so float32 rounding on the GPU cannot flip one.
"""

import json
import os

import torch

import lm_models as lm
from make_lm_fixtures import GPT2_CONFIG, gpt2_weights

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models", "gpt2-tiny-genconfig")

MARGIN = 2e-3
PROMPT_LENGTH = 5
MAX_LENGTH = 24  # 19 new tokens after a 5-token prompt
V = GPT2_CONFIG["vocab_size"]


def designs(model, prompt):
    """Generation configs under which `prompt` may exercise every processor, built from its runs."""
    plain, _ = lm.generate(model, prompt, {}, max_new_tokens=MAX_LENGTH - PROMPT_LENGTH)
    # The first EOS id: a token plain greedy writes early (its first occurrence); the
    # min_new_tokens ban keeps it out for a few more tokens.
    for k1 in (1, 2, 3, 4):
        if plain[k1] in plain[:k1]:
            continue
        eos1, min_new = plain[k1], k1 + 3
        base = {"max_length": MAX_LENGTH, "min_new_tokens": min_new, "eos_token_id": [eos1]}
        g1, _ = lm.generate(model, prompt, base)
        # The one-token bad word: an early token of that run (not the EOS id).
        for c in dict.fromkeys(t for t in g1[1 : min_new + 2] if t != eos1):
            g2, _ = lm.generate(model, prompt, {**base, "bad_words_ids": [[c]]})
            # The two-token bad word: a pair in that run, its second token neither EOS nor c.
            for i in range(1, min(len(g2) - 1, min_new + 4)):
                pair = [g2[i], g2[i + 1]]
                if pair[1] in (eos1, c):
                    continue
                bad = [[c], pair, [eos1]]  # [eos1] is dropped by NoBadWordsLogitsProcessor
                g3, _ = lm.generate(model, prompt, {**base, "bad_words_ids": bad})
                # The second EOS id: a token of that run after the ban, first seen there, that ends it early.
                for t in range(min_new + 1, len(g3) - 3):
                    if g3[t] in g3[:t] + [eos1, c]:
                        continue
                    eos2 = g3[t]
                    yield {
                        "bad_words_ids": bad,
                        "bos_token_id": eos1,
                        "eos_token_id": [eos1, eos2],
                        "forced_eos_token_id": eos2,
                        "max_length": MAX_LENGTH,
                        "min_new_tokens": min_new,
                        "pad_token_id": eos1,
                        "transformers_version": "4.45.2",
                    }


def run(model, name, prompt, config, **kwargs):
    ids, margin = lm.generate(model, prompt, config, **kwargs)
    s = lm.generation_settings(config, len(prompt), **kwargs)
    plain, _ = lm.generate(model, prompt, {}, max_new_tokens=len(ids))
    ended_by = "eos" if ids[-1] in s["eos"] else "max_length"
    return {"name": name, "prompt": prompt, "kwargs": kwargs, "ids": ids, "ended_by": ended_by, "plain": plain}, margin


CASES_A = [
    ("file", lambda c: {}),
    ("no min_new_tokens", lambda c: {"min_new_tokens": None}),
    ("no bad words", lambda c: {"bad_words_ids": None}),
    ("only the one-token bad word", lambda c: {"bad_words_ids": [c["bad_words_ids"][0]]}),
    ("first EOS id only", lambda c: {"eos_token_id": c["eos_token_id"][0]}),
]
CASES_B = [
    ("forced", lambda c: {}),
    ("forced, no forced EOS", lambda c: {"forced_eos_token_id": None}),
    ("forced, max_new_tokens 7", lambda c: {"max_new_tokens": 7}),
]


def cases_for(model, prompt, config, which):
    """The golden cases of one prompt, or None when one of them is not what it should show."""
    out = {}
    for name, kwargs in which:
        case, margin = run(model, name, prompt, config, **kwargs(config))
        if margin <= MARGIN:
            return None
        out[name] = case
    eos2 = config["eos_token_id"][1]
    new = MAX_LENGTH - PROMPT_LENGTH
    if which is CASES_A:
        file = out["file"]
        checks = [
            file["ended_by"] == "eos" and file["ids"][-1] == eos2 and len(file["ids"]) < new,  # the second EOS id ends it
            out["no min_new_tokens"]["ids"] != file["ids"],  # the ban mattered
            out["no bad words"]["ids"] != file["ids"],
            out["only the one-token bad word"]["ids"] != file["ids"],  # the two-token word mattered
            out["only the one-token bad word"]["ids"] != out["no bad words"]["ids"],  # so did the one-token word
            out["first EOS id only"]["ids"] != file["ids"],
            file["plain"] != file["ids"],
        ]
    else:
        forced, free, short = out["forced"], out["forced, no forced EOS"], out["forced, max_new_tokens 7"]
        checks = [
            len(forced["ids"]) == new and forced["ids"][-1] == eos2 and eos2 not in forced["ids"][:-1],
            free["ended_by"] == "max_length" and free["ids"][:-1] == forced["ids"][:-1],  # only the last token was forced
            len(short["ids"]) == 7 and short["ids"][-1] == eos2 and short["ids"][:-1] == forced["ids"][:6],
        ]
    return list(out.values()) if all(checks) else None


def model_weights():
    """make_lm_fixtures.py's GPT-2 weights (another seed), with projections 3× as strong: the
    random model then depends more on its prompt and repeats itself less."""
    w = gpt2_weights(seed=4321)
    for name in w:
        if name.endswith(("c_attn.weight", "c_fc.weight", "c_proj.weight")):
            w[name] = w[name] * 3
    return w


def main():
    torch.set_num_threads(1)
    weights = model_weights()
    model = lm.GPT2LMHeadModel(GPT2_CONFIG, weights)
    g = torch.Generator().manual_seed(5)
    prompts = [torch.randint(0, V, [PROMPT_LENGTH], generator=g).tolist() for _ in range(40)]
    found = None
    for a, prompt_a in enumerate(prompts):
        for config in designs(model, prompt_a):
            cases_a = cases_for(model, prompt_a, config, CASES_A)
            if not cases_a:
                continue
            for prompt_b in prompts[a + 1 :]:
                cases_b = cases_for(model, prompt_b, config, CASES_B)
                if cases_b:
                    found = (config, cases_a + cases_b)
                    break
            if found:
                break
        if found:
            break
    else:
        raise AssertionError("no prompts exercise every processor with clear decisions")
    config, cases = found
    print(f"prompt A is prompt {a}")

    os.makedirs(OUT, exist_ok=True)
    for name, data in [("config.json", GPT2_CONFIG), ("generation_config.json", config)]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    path = os.path.join(OUT, "model.safetensors")
    lm.write_safetensors(path, weights, metadata={"format": "pt"})
    back = lm.read_safetensors(path)
    assert all(torch.equal(back[k], weights[k]) for k in weights)
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump({"generation_config": config, "cases": cases}, f, indent=1)
        f.write("\n")
    print(json.dumps(config))
    for c in cases:
        print(f"  {c['name']:30} {c['ids']} ({c['ended_by']}); plain {c['plain']}")


if __name__ == "__main__":
    main()
