"""Write tiny GPT-2 / Llama checkpoints in Hugging Face layout plus float64 golden outputs.

    /usr/bin/python3 tools/reference/make_lm_fixtures.py

For each model folder under test/fixtures/models/: config.json (HF style), model.safetensors (HF
parameter names, random seeded weights) and golden.json:

    { "logits": [ { "ids": [...], "logits": [[vocab floats] per position] } for 1, 7 and 23 tokens ],
      "greedy": [ { "prompt": [...], "new_tokens": 20, "ids": [the 20 generated ids only] } x 2 ] }

Golden numbers are computed in float64 (lm_models.py) from the weights exactly as stored, i.e. after
rounding to f16 / bf16 for the reduced-precision variants, and rounded to 7 significant digits.
"""

import json
import os

import torch

import lm_models as lm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models")

GPT2_CONFIG = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "vocab_size": 97,
    "n_positions": 64,
    "n_ctx": 64,
    "n_embd": 48,
    "n_layer": 2,
    "n_head": 3,
    "n_inner": None,
    "layer_norm_epsilon": 1e-5,
    "activation_function": "gelu_new",
    "scale_attn_weights": True,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 101,
    "hidden_size": 48,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}


def randn(gen, shape, std, mean=0.0):
    return torch.randn(shape, generator=gen, dtype=torch.float32) * std + mean


def gpt2_weights(seed):
    """GPT2LMHeadModel state dict (with `transformer.` prefix and the attn.bias mask buffers)."""
    c, g = GPT2_CONFIG, torch.Generator().manual_seed(seed)
    D, V, P = c["n_embd"], c["vocab_size"], c["n_positions"]
    w = {
        # strong position embeddings keep the tied-embedding model from repeating its last token
        "transformer.wte.weight": randn(g, [V, D], 0.1),
        "transformer.wpe.weight": randn(g, [P, D], 0.5),
    }
    for i in range(c["n_layer"]):
        p = f"transformer.h.{i}"
        w[p + ".ln_1.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".ln_1.bias"] = randn(g, [D], 0.05)
        w[p + ".attn.bias"] = torch.ones(P, P).tril().view(1, 1, P, P)
        w[p + ".attn.c_attn.weight"] = randn(g, [D, 3 * D], 0.1)  # Conv1D: [in, out]
        w[p + ".attn.c_attn.bias"] = randn(g, [3 * D], 0.05)
        w[p + ".attn.c_proj.weight"] = randn(g, [D, D], 0.1)
        w[p + ".attn.c_proj.bias"] = randn(g, [D], 0.05)
        w[p + ".ln_2.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".ln_2.bias"] = randn(g, [D], 0.05)
        w[p + ".mlp.c_fc.weight"] = randn(g, [D, 4 * D], 0.1)
        w[p + ".mlp.c_fc.bias"] = randn(g, [4 * D], 0.05)
        w[p + ".mlp.c_proj.weight"] = randn(g, [4 * D, D], 0.1)
        w[p + ".mlp.c_proj.bias"] = randn(g, [D], 0.05)
    w["transformer.ln_f.weight"] = randn(g, [D], 0.1, 1.0)
    w["transformer.ln_f.bias"] = randn(g, [D], 0.05)
    return w


def llama_weights(seed, tied):
    c, g = LLAMA_CONFIG, torch.Generator().manual_seed(seed)
    D, V, F = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    kv = c["num_key_value_heads"] * (D // c["num_attention_heads"])
    w = {"model.embed_tokens.weight": randn(g, [V, D], 0.2)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        w[p + ".input_layernorm.weight"] = randn(g, [D], 0.1, 1.0)
        # layers strong enough to outweigh the raw embedding in the residual stream, otherwise the
        # (position-free, RoPE-only) random model just repeats its last token
        w[p + ".self_attn.q_proj.weight"] = randn(g, [D, D], 0.3)  # nn.Linear: [out, in]
        w[p + ".self_attn.k_proj.weight"] = randn(g, [kv, D], 0.3)
        w[p + ".self_attn.v_proj.weight"] = randn(g, [kv, D], 0.2)
        w[p + ".self_attn.o_proj.weight"] = randn(g, [D, D], 0.2)
        w[p + ".post_attention_layernorm.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".mlp.gate_proj.weight"] = randn(g, [F, D], 0.2)
        w[p + ".mlp.up_proj.weight"] = randn(g, [F, D], 0.2)
        w[p + ".mlp.down_proj.weight"] = randn(g, [D, F], 0.2)
    w["model.norm.weight"] = randn(g, [D], 0.1, 1.0)
    lm_head = randn(g, [V, D], 0.2)
    if not tied:
        w["lm_head.weight"] = lm_head
    return w


def round7(x):
    return float(f"{x:.7g}")


def golden(model, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    logits = []
    for T in (1, 7, 23):
        ids = torch.randint(0, vocab, [T], generator=g).tolist()
        out = model(ids)
        assert torch.isfinite(out).all() and out.abs().max() > 0.1, "logits look trivial"
        logits.append({"ids": ids, "logits": [[round7(v) for v in row.tolist()] for row in out]})
    greedy, min_gap = [], float("inf")
    for T in (1, 5):
        # draw prompts until the greedy path is unambiguous: a float32 engine must reproduce every
        # argmax, so reject paths with a near-tie or that collapse onto a few tokens
        for attempt in range(50):
            prompt = torch.randint(0, vocab, [T], generator=g).tolist()
            ids = lm.greedy(model, prompt, 20)
            top2 = model(prompt + ids[:-1])[T - 1 :].topk(2, dim=-1).values
            gap = (top2[:, 0] - top2[:, 1]).min().item()
            if gap > 2e-3 and len(set(ids)) >= 6:
                break
        else:
            raise AssertionError(f"no unambiguous greedy prompt of length {T}")
        min_gap = min(min_gap, gap)
        greedy.append({"prompt": prompt, "new_tokens": 20, "ids": ids})
    print(f"  smallest top-1/top-2 logit gap on the greedy paths: {min_gap:.3g}")
    return {"logits": logits, "greedy": greedy}


def write_model(name, config, weights, model, seed):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    path = os.path.join(folder, "model.safetensors")
    lm.write_safetensors(path, weights, metadata={"format": "pt"})
    back = lm.read_safetensors(path)
    assert list(back) == list(weights)
    for k in weights:
        assert back[k].dtype == weights[k].dtype and torch.equal(back[k], weights[k]), k
    data = golden(model, config["vocab_size"], seed)
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    print(f"{name}: {size / 1024:.1f} KiB, greedy {[g['ids'] for g in data['greedy']]}")


def check_llama_permutation(config, weights):
    """HF rotate_half on HF-layout weights == adjacent-pair RoPE on permute_hf_to_meta(weights)."""
    H, KV = config["num_attention_heads"], config["num_key_value_heads"]
    meta = dict(weights)
    for name, t in weights.items():
        if name.endswith("q_proj.weight"):
            meta[name] = lm.permute_hf_to_meta(t, H)
            assert torch.equal(lm.permute_meta_to_hf(meta[name], H), t)
        elif name.endswith("k_proj.weight"):
            meta[name] = lm.permute_hf_to_meta(t, KV)
            assert torch.equal(lm.permute_meta_to_hf(meta[name], KV), t)
    ids = list(range(3, 40, 2))
    hf = lm.LlamaForCausalLM(config, weights, rope="rotate_half")(ids)
    adjacent = lm.LlamaForCausalLM(config, meta, rope="adjacent")(ids)
    err = (hf - adjacent).abs().max().item()
    assert err < 1e-12, f"rotate_half vs adjacent-pair mismatch {err}"
    naive = lm.LlamaForCausalLM(config, weights, rope="adjacent")(ids)
    assert (hf - naive).abs().max().item() > 1e-3, "permutation check is vacuous"


def main():
    torch.set_num_threads(1)

    w = gpt2_weights(seed=1234)
    write_model("gpt2-tiny", GPT2_CONFIG, w, lm.GPT2LMHeadModel(GPT2_CONFIG, w), seed=1)
    w16 = {k[len("transformer."):]: t.half() for k, t in w.items()}
    cfg16 = dict(GPT2_CONFIG, torch_dtype="float16")
    write_model("gpt2-tiny-noprefix-f16", cfg16, w16, lm.GPT2LMHeadModel(cfg16, w16), seed=1)

    w = llama_weights(seed=7, tied=False)
    check_llama_permutation(LLAMA_CONFIG, w)
    write_model("llama-tiny", LLAMA_CONFIG, w, lm.LlamaForCausalLM(LLAMA_CONFIG, w), seed=2)
    wt = {k: t.bfloat16() for k, t in llama_weights(seed=7, tied=True).items()}
    cfgt = dict(LLAMA_CONFIG, tie_word_embeddings=True, torch_dtype="bfloat16")
    write_model("llama-tiny-tied-bf16", cfgt, wt, lm.LlamaForCausalLM(cfgt, wt), seed=2)


if __name__ == "__main__":
    main()
