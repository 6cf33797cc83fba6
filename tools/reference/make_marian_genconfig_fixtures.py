"""A tiny Marian checkpoint whose generation defaults live in generation_config.json, with golden
`generate()` outputs for a padded batch of mixed-length sources.

    /usr/bin/python3 tools/reference/make_marian_genconfig_fixtures.py

test/fixtures/models/marian-tiny-genconfig/:
- config.json: the model (MarianConfig keys; pad 96, EOS 0, decoder start = pad) without the
  generation keys (no num_beams, max_length, bad_words_ids, forced_eos_token_id);
- generation_config.json: OPUS-MT's defaults (num_beams 4, max_length 64, bad_words_ids [[pad]],
  forced_eos_token_id = EOS, decoder_start_token_id = pad, pad and EOS ids);
- model.safetensors: seeded random weights, the shared embedding stored once;
- golden.json: { "sources": [[ids]...],   10 sources of 2..61 tokens, each ending with EOS
    "cases": [ { "name", "generation_config": the generation_config.json it ran with (null: none,
                 so config.json's keys and MarianConfig's defaults count), "kwargs": generate(**kwargs),
                 "sources": indices into "sources", "ids": [[generated ids, up to and with EOS]],
                 "scores": [beam search only] } ] }

The cases cover the defaults (4 beams), greedy, 2 and 3 beams, length penalties 0.6-2 with
early_stopping true, false and "never", min/max_new_tokens, the generation config without bad
words and without forced EOS (showing that pad would be chosen and that rows reach max_length), a
config with two EOS ids and multi-token bad words, renormalize_logits, bos as the start token, and
the folder without generation_config.json. The script tries seeds and EOS biases until every
decision is clear by more than MARGIN (top-2 logit gaps for greedy, the gaps at the beam-search
cuts) and the defaults give short rows, rows cut at max_length with the forced EOS, and a pad that
the bad words keep out.
"""

import json
import os

import torch

import lm_models as lm
import marian_reference as ref

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models", "marian-tiny-genconfig")

V, D = 97, 32
PAD, EOS = V - 1, 0
MARGIN = 2e-4
CONFIG = {
    "architectures": ["MarianMTModel"],
    "model_type": "marian",
    "vocab_size": V,
    "decoder_vocab_size": V,
    "d_model": D,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 48,
    "decoder_ffn_dim": 48,
    "activation_function": "swish",
    "max_position_embeddings": 64,
    "scale_embedding": True,
    "normalize_before": False,
    "normalize_embedding": False,
    "static_position_embeddings": True,
    "share_encoder_decoder_embeddings": True,
    "tie_word_embeddings": True,
    "pad_token_id": PAD,
    "eos_token_id": EOS,
    "decoder_start_token_id": PAD,
    "is_encoder_decoder": True,
    "torch_dtype": "float32",
}
GENERATION = {
    "bad_words_ids": [[PAD]],
    "bos_token_id": 0,
    "decoder_start_token_id": PAD,
    "eos_token_id": EOS,
    "forced_eos_token_id": EOS,
    "max_length": 64,
    "num_beams": 4,
    "pad_token_id": PAD,
    "transformers_version": "4.45.2",
}
LENGTHS = [2, 3, 5, 8, 12, 17, 24, 33, 45, 61]  # source tokens, EOS included: 1 + EOS up to near the 64 positions
ALL = list(range(len(LENGTHS)))


def weights(seed, eos_bias):
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape, std=1.0: (torch.randn(*shape, generator=g) * std).float()
    w = {"model.shared.weight": randn(V, D, std=0.5)}

    def linear(p, n_out, n_in):
        w[p + ".weight"] = randn(n_out, n_in, std=n_in**-0.5)
        w[p + ".bias"] = randn(n_out, std=0.1)

    def norm(p):
        w[p + ".weight"] = randn(D, std=1.0)
        w[p + ".bias"] = randn(D, std=0.1)

    for side in ("encoder", "decoder"):
        for i in range(CONFIG[side + "_layers"]):
            p = f"model.{side}.layers.{i}"
            for a in ["self_attn"] + (["encoder_attn"] if side == "decoder" else []):
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    linear(f"{p}.{a}.{proj}", D, D)
                norm(f"{p}.{a}_layer_norm")
            linear(p + ".fc1", CONFIG[side + "_ffn_dim"], D)
            linear(p + ".fc2", D, CONFIG[side + "_ffn_dim"])
            norm(p + ".final_layer_norm")
    bias = randn(1, V, std=0.3)
    bias[0, EOS] += eos_bias  # how soon rows end on their own
    bias[0, PAD] += 6.0  # the banned pad would win often: bad_words_ids must be honoured
    w["final_logits_bias"] = bias
    return w


def make_sources(seed):
    g = torch.Generator().manual_seed(seed + 1000)
    return [torch.randint(1, V - 1, (n - 1,), generator=g).tolist() + [EOS] for n in LENGTHS]


def without(config, *keys):
    return {k: v for k, v in config.items() if k not in keys}


def cases(second_eos, bad_pair):
    """(name, generation_config.json or None, generate kwargs, source indices)."""
    multi = {**without(GENERATION, "decoder_start_token_id"), "eos_token_id": [EOS, second_eos], "bos_token_id": 3, "bad_words_ids": [[PAD], bad_pair, [EOS]]}
    return [
        ("defaults (4 beams, max_length 64)", GENERATION, {}, ALL),
        ("greedy", GENERATION, {"num_beams": 1}, ALL),
        ("2 beams", GENERATION, {"num_beams": 2}, ALL),
        ("3 beams, length_penalty 0.6, early_stopping true", GENERATION, {"num_beams": 3, "length_penalty": 0.6, "early_stopping": True, "max_new_tokens": 30}, ALL),
        ("4 beams, length_penalty 1.5, early_stopping never", GENERATION, {"length_penalty": 1.5, "early_stopping": "never", "max_new_tokens": 30}, ALL),
        ("3 beams, length_penalty 2, early_stopping false", {**GENERATION, "num_beams": 3, "length_penalty": 2.0}, {"max_new_tokens": 30}, ALL),
        ("greedy, min_new_tokens 6, max_new_tokens 20", GENERATION, {"num_beams": 1, "min_new_tokens": 6, "max_new_tokens": 20}, ALL),
        ("max_new_tokens and min_length in the config", {**GENERATION, "max_new_tokens": 25, "min_length": 5}, {}, ALL),
        ("greedy without bad_words_ids", without(GENERATION, "bad_words_ids"), {"num_beams": 1}, ALL),
        ("4 beams without bad_words_ids", without(GENERATION, "bad_words_ids"), {}, ALL),
        ("greedy without forced_eos_token_id", without(GENERATION, "forced_eos_token_id"), {"num_beams": 1}, ALL),
        ("4 beams, forced EOS turned off by a kwarg", GENERATION, {"forced_eos_token_id": None, "max_new_tokens": 30}, ALL),
        ("greedy, two EOS ids, a bad pair, bos as start", multi, {"num_beams": 1}, ALL),
        ("3 beams, two EOS ids, a bad pair, bos as start", multi, {"num_beams": 3, "max_new_tokens": 30}, ALL),
        ("4 beams, renormalize_logits", {**GENERATION, "renormalize_logits": True}, {}, ALL),
        ("no generation_config.json (config.json and MarianConfig defaults)", None, {}, ALL),
    ]


def run(model, sources, name, gc_json, kwargs, indices):
    gc = ref.generation_config_of(CONFIG, gc_json)
    s = ref.prepare_generation(gc, **kwargs)
    out = ref.generate(model, [sources[i] for i in indices], s)
    case = {"name": name, "generation_config": gc_json, "kwargs": kwargs, "sources": indices, "ids": out["ids"]}
    if "scores" in out:
        case["scores"] = out["scores"]
    return case, out["margin"], s


def good_defaults(beam, greedy, greedy_free, max_new):
    """Some rows end early on EOS, some are cut at max_length with the forced EOS, some would take pad."""
    for ids in (beam, greedy):
        if not any(len(i) <= 16 and i[-1] == EOS for i in ids) or not any(len(i) == max_new for i in ids):
            return False
    return any(PAD in i for i in greedy_free)


def build(seed, eos_bias):
    w = weights(seed, eos_bias)
    model = ref.MarianMTModel(CONFIG, w)
    sources = make_sources(seed)
    # the defaults first: a candidate whose outputs are dull or close to a tie is dropped early
    head = cases(1, [1, 2])
    out, margins = [], []
    for name, gc_json, kwargs, indices in [head[0], head[1], head[8]]:
        case, margin, _ = run(model, sources, name, gc_json, kwargs, indices)
        out.append(case)
        margins.append(margin)
        if margin <= MARGIN:
            return None, f"a near-tie ({margin:.1e}) in '{name}'"
    if not good_defaults(out[0]["ids"], out[1]["ids"], out[2]["ids"], GENERATION["max_length"] - 1):
        return None, "the defaults do not show early EOS, forced EOS and pad all three"
    # the second EOS id: a token the greedy rows generate; the bad pair: a bigram they generate
    counts = {}
    bigrams = {}
    for ids in out[1]["ids"]:
        for a, b in zip(ids, ids[1:]):
            if EOS not in (a, b):
                bigrams[(a, b)] = bigrams.get((a, b), 0) + 1
        for t in ids:
            if t not in (EOS, PAD):
                counts[t] = counts.get(t, 0) + 1
    if not bigrams:
        return None, "no bigram to ban"
    bad_pair = list(max(bigrams, key=lambda k: (bigrams[k], -k[0], -k[1])))
    second = max((t for t in counts if t not in bad_pair), key=lambda t: (counts[t], -t))
    golden = []
    for name, gc_json, kwargs, indices in cases(second, bad_pair):
        case, margin, _ = run(model, sources, name, gc_json, kwargs, indices)
        golden.append(case)
        margins.append(margin)
        if margin <= MARGIN:
            return None, f"a near-tie ({margin:.1e}) in '{name}'"
    return (w, sources, golden, margins), None


def describe(golden):
    for c in golden:
        lengths = [len(i) for i in c["ids"]]
        ended = sum(1 for i in c["ids"] if i and i[-1] in (EOS,))
        pads = sum(1 for i in c["ids"] if PAD in i)
        print(f"  {c['name']}: lengths {lengths}, {ended} end on EOS 0, {pads} hold pad")


def main():
    for seed in range(3, 60):
        for eos_bias in (5.0, 4.5, 4.0):
            result, why = build(seed, eos_bias)
            if result:
                break
            print(f"seed {seed}, EOS bias {eos_bias}: {why}")
        if result:
            break
    w, sources, golden, margins = result
    print(f"seed {seed}, EOS bias {eos_bias}: smallest decision margin {min(margins):.2e}")
    describe(golden)
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("config.json", CONFIG), ("generation_config.json", GENERATION)):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    lm.write_safetensors(os.path.join(OUT, "model.safetensors"), w, metadata={"format": "pt"})
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump({"seed": seed, "eos_bias": eos_bias, "sources": sources, "cases": golden}, f, separators=(",", ":"))
        f.write("\n")
    for name in ("config.json", "generation_config.json", "model.safetensors", "golden.json"):
        print(f"wrote {os.path.normpath(os.path.join(OUT, name))} ({os.path.getsize(os.path.join(OUT, name))} bytes)")


if __name__ == "__main__":
    main()
