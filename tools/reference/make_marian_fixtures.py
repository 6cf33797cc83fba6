"""Write a tiny Marian checkpoint in Hugging Face layout plus float64 golden outputs.

    /usr/bin/python3 tools/reference/make_marian_fixtures.py

test/fixtures/models/marian-tiny/: config.json (MarianConfig keys, OPUS-MT conventions: eos 0,
pad = decoder start = the last id, pad banned through bad_words_ids, forced EOS), model.safetensors
(random seeded weights under HF's MarianMTModel names, including the tied copies of the shared
embedding and the saved sinusoidal position tables that `save_pretrained` may write) and golden.json:

    { "logits": [ { "sources": [[ids]...], "decoder": [[ids]...], "logits": [B][T][V] } ],   (7 digits)
      "greedy": [ { "sources", "max_new_tokens", "ids": [[generated ids, up to and with EOS]] } ],
      "beam":   [ { "sources", "num_beams", "max_new_tokens", "length_penalty", "early_stopping",
                    "ids", "scores" } ] }

The seed is chosen so that no decoding step is a near-tie (margins are printed): the GPU computes
in float32, and a tie closer than ~1e-4 could otherwise flip a choice.
"""

import json
import os

import torch

import lm_models as lm
import marian_reference as ref

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models", "marian-tiny")

V, D = 89, 32
PAD, EOS = V - 1, 0
CONFIG = {
    "architectures": ["MarianMTModel"],
    "model_type": "marian",
    "vocab_size": V,
    "decoder_vocab_size": V,
    "d_model": D,
    "encoder_layers": 2,
    "decoder_layers": 3,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 48,
    "decoder_ffn_dim": 40,
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
    "forced_eos_token_id": EOS,
    "bad_words_ids": [[PAD]],
    "num_beams": 4,
    "max_length": 64,
    "is_encoder_decoder": True,
    "torch_dtype": "float32",
}

# Sources of different lengths (each ends with EOS, as MarianTokenizer's ids do).
SOURCES = [[5, 17, 33, 2, 61, 0], [7, 0], [44, 12, 9, 80, 3, 71, 26, 50, 0], [19, 19, 4, 0]]


def weights(seed):
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape, std=1.0: (torch.randn(*shape, generator=g) * std).float()
    w = {}
    shared = randn(V, D, std=0.5)
    for name in ("model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"):
        w[name] = shared.clone()
    pos = ref.sinusoidal_positions(CONFIG["max_position_embeddings"], D).float()
    w["model.encoder.embed_positions.weight"] = pos.clone()
    w["model.decoder.embed_positions.weight"] = pos.clone()

    def linear(p, n_out, n_in):
        w[p + ".weight"] = randn(n_out, n_in, std=n_in**-0.5)
        w[p + ".bias"] = randn(n_out, std=0.1)

    def norm(p):
        w[p + ".weight"] = randn(D, std=1.0)  # signs mixed: breaks the tied head's echo of the input token
        w[p + ".bias"] = randn(D, std=0.1)

    for side, layers, ffn in (("encoder", CONFIG["encoder_layers"], CONFIG["encoder_ffn_dim"]), ("decoder", CONFIG["decoder_layers"], CONFIG["decoder_ffn_dim"])):
        for i in range(layers):
            p = f"model.{side}.layers.{i}"
            attns = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for a in attns:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    linear(f"{p}.{a}.{proj}", D, D)
                norm(f"{p}.{a}_layer_norm")
            linear(p + ".fc1", ffn, D)
            linear(p + ".fc2", D, ffn)
            norm(p + ".final_layer_norm")
    bias = randn(1, V, std=0.3)
    bias[0, EOS] += 2.0  # EOS likely enough that hypotheses end on their own
    bias[0, PAD] += 6.0  # the banned pad would win often: bad_words_ids must be honoured
    w["final_logits_bias"] = bias
    return w


def round7(x):
    return [float("%.7g" % v) for v in x]


def build(seed):
    w = weights(seed)
    model = ref.MarianMTModel(CONFIG, w)
    golden = {"logits": [], "greedy": [], "beam": []}

    g = torch.Generator().manual_seed(seed + 1)
    for sources in ([SOURCES[2]], SOURCES):
        dec = torch.cat([torch.full((len(sources), 1), PAD), torch.randint(0, V - 1, (len(sources), 6), generator=g)], dim=1)
        ids, mask = ref.pad_batch(sources, PAD)
        logits = model.decode(dec, model.encode(ids, mask), mask)
        golden["logits"].append({"sources": sources, "decoder": dec.tolist(), "logits": [[round7(r.tolist()) for r in b] for b in logits]})

    margins = []
    for sources, n, min_new in (([SOURCES[0]], 12, 0), (SOURCES, 20, 0), (SOURCES, 9, 5)):
        ids, margin = ref.greedy(model, sources, n, min_new_tokens=min_new)
        margins.append(margin)
        golden["greedy"].append({"sources": sources, "max_new_tokens": n, "min_new_tokens": min_new, "ids": ids})

    # The last case turns the forced EOS off, so open beams reach max_length and finalize scores them.
    for sources, nb, n, lp, es, forced in (
        ([SOURCES[0]], 4, 12, 1.0, False, True),
        (SOURCES, 4, 16, 1.0, False, True),
        (SOURCES, 3, 10, 0.6, True, True),
        (SOURCES[1:3], 2, 8, 1.4, "never", True),
        (SOURCES, 3, 7, 1.0, False, False),
    ):
        ids, scores, gap = ref.beam_search(model, sources, nb, n, length_penalty=lp, early_stopping=es, forced_eos=forced)
        margins.append(gap)
        golden["beam"].append({"sources": sources, "num_beams": nb, "max_new_tokens": n, "length_penalty": lp, "early_stopping": es, "forced_eos": forced, "ids": ids, "scores": scores})

    return w, golden, margins


def main():
    for seed in range(11, 100):
        w, golden, margins = build(seed)
        if min(margins) > 1e-3:
            break
        print(f"seed {seed}: a near-tie ({min(margins):.1e}), trying the next seed")
    print(f"seed {seed}: smallest decision margins (greedy, beam):", ["%.2e" % m for m in margins])
    lengths = [len(i) for case in golden["greedy"] + golden["beam"] for i in case["ids"]]
    ended = sum(1 for case in golden["greedy"] + golden["beam"] for i in case["ids"] if i and i[-1] == EOS)
    print(f"{len(lengths)} decoded sequences, lengths {min(lengths)}..{max(lengths)}, {ended} end on EOS")

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    lm.write_safetensors(os.path.join(OUT, "model.safetensors"), w, metadata={"format": "pt"})
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    for name in ("config.json", "model.safetensors", "golden.json"):
        print(f"wrote {os.path.normpath(os.path.join(OUT, name))} ({os.path.getsize(os.path.join(OUT, name))} bytes)")


if __name__ == "__main__":
    main()
