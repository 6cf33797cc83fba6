"""Float64 reference for llama2.c's stories260K: greedy decoding from BOS, checked against the
published sample text.

    /usr/bin/python3 tools/reference/llama2c_reference.py

Reads ../shared/data/stories260K/{stories260K.bin,tok512.bin} (override the folder with
STORIES260K_DIR), writes test/fixtures/stories260K-greedy-ids.json and checks that the decoded text
equals test/fixtures/stories260K-greedy.txt.

The checkpoint keeps Meta's layout, so it runs through lm_models.LlamaForCausalLM with the
adjacent-pair RoPE (the convention of Tessera's ropeOp). As a cross-check it also runs with q/k rows
permuted into HF layout (permute_meta_to_hf) and HF's rotate_half RoPE: both must agree.
"""

import json
import os
import re
import struct

import torch

import lm_models as lm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.environ.get("STORIES260K_DIR", os.path.join(ROOT, "..", "shared", "data", "stories260K"))
FIXTURES = os.path.join(ROOT, "test", "fixtures")
BOS = 1
STEPS = 256  # run.c's default -n


def load_checkpoint(path):
    """llama2.c .bin -> (HF-style config, weights named like HF Llama but with Meta q/k row order)."""
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared_classifier = vocab > 0
    vocab = abs(vocab)
    kv_dim = dim * n_kv_heads // n_heads
    data = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32)
    offset = 0

    def take(*shape):
        nonlocal offset
        n = 1
        for s in shape:
            n *= s
        t = data[offset : offset + n].reshape(shape).clone()
        offset += n
        return t

    embed = take(vocab, dim)
    arrays = {
        "input_layernorm": take(n_layers, dim),
        "q_proj": take(n_layers, dim, dim),
        "k_proj": take(n_layers, kv_dim, dim),
        "v_proj": take(n_layers, kv_dim, dim),
        "o_proj": take(n_layers, dim, dim),
        "post_attention_layernorm": take(n_layers, dim),
        "gate_proj": take(n_layers, hidden, dim),  # w1
        "down_proj": take(n_layers, dim, hidden),  # w2
        "up_proj": take(n_layers, hidden, dim),  # w3
    }
    norm = take(dim)
    head_dim = dim // n_heads
    offset += 2 * seq_len * head_dim // 2  # legacy freq_cis_real / freq_cis_imag
    if not shared_classifier:
        lm_head = take(vocab, dim)
    assert offset == data.numel(), f"{offset} floats read, file has {data.numel()}"

    w = {"model.embed_tokens.weight": embed, "model.norm.weight": norm}
    for i in range(n_layers):
        p = f"model.layers.{i}"
        w[p + ".input_layernorm.weight"] = arrays["input_layernorm"][i]
        w[p + ".post_attention_layernorm.weight"] = arrays["post_attention_layernorm"][i]
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            w[f"{p}.self_attn.{name}.weight"] = arrays[name][i]
        for name in ("gate_proj", "up_proj", "down_proj"):
            w[f"{p}.mlp.{name}.weight"] = arrays[name][i]
    if not shared_classifier:
        w["lm_head.weight"] = lm_head
    config = {
        "vocab_size": vocab,
        "hidden_size": dim,
        "intermediate_size": hidden,
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "num_key_value_heads": n_kv_heads,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": seq_len,
        "tie_word_embeddings": shared_classifier,
    }
    return config, w


def load_tokenizer(path):
    with open(path, "rb") as f:
        raw = f.read()
    pos, vocab = 4, []  # int32 max_token_length, then (f32 score, i32 length, bytes) per token
    while pos < len(raw):
        _score, n = struct.unpack("<fi", raw[pos : pos + 8])
        vocab.append(raw[pos + 8 : pos + 8 + n])
        pos += 8 + n
    return vocab


def decode(vocab, ids):
    """run.c: decode(prev, next) per step through safe_printf, then a final printf("\\n")."""
    out, prev = b"", BOS
    for token in ids:
        piece = vocab[token]
        if prev == BOS and piece.startswith(b" "):
            piece = piece[1:]
        m = re.fullmatch(rb"<0x([0-9A-F]{2})>", piece)
        if m:
            piece = bytes([int(m.group(1), 16)])
        # safe_printf drops single non-printable, non-space bytes
        if len(piece) == 1 and not (0x20 <= piece[0] < 0x7F or piece[0] in b" \t\n\v\f\r"):
            piece = b""
        out += piece
        prev = token
    return (out + b"\n").decode("utf-8")


def main():
    torch.set_num_threads(1)
    config, meta = load_checkpoint(os.path.join(DATA, "stories260K.bin"))
    vocab = load_tokenizer(os.path.join(DATA, "tok512.bin"))
    assert len(vocab) == config["vocab_size"]
    model = lm.LlamaForCausalLM(config, meta, rope="adjacent")

    hf = dict(meta)
    for name, t in meta.items():
        if name.endswith("q_proj.weight"):
            hf[name] = lm.permute_meta_to_hf(t, config["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            hf[name] = lm.permute_meta_to_hf(t, config["num_key_value_heads"])
    hf_model = lm.LlamaForCausalLM(config, hf, rope="rotate_half")

    # run.c: feed BOS at pos 0, stop after STEPS forwards or when the sampled token is BOS
    ids = []
    for _ in range(STEPS):
        next_id = int(model([BOS] + ids)[-1].argmax())
        if next_id == BOS:
            break
        ids.append(next_id)
    print(ids)

    full = model([BOS] + ids)
    err = (full - hf_model([BOS] + ids)).abs().max().item()
    assert err < 1e-10, f"adjacent-pair vs permuted rotate_half mismatch {err}"
    top2 = full[: len(ids)].topk(2, dim=-1).values
    gap = (top2[:, 0] - top2[:, 1]).min().item()
    print(f"adjacent-pair == permuted HF rotate_half (max diff {err:.1e}); smallest greedy logit gap {gap:.3g}")

    record = {
        "source": "tools/reference/llama2c_reference.py (float64, adjacent-pair RoPE, full recompute)",
        "prompt": [BOS],
        "ids": ids,
        "logits_bos": [float(f"{v:.9g}") for v in full[0].tolist()],
        "logits_after_10_note": "logits at position 10, input [BOS] + ids[:10]",
        "logits_after_10": [float(f"{v:.9g}") for v in full[10].tolist()],
    }
    with open(os.path.join(FIXTURES, "stories260K-greedy-ids.json"), "w") as f:
        json.dump(record, f, separators=(",", ":"))
        f.write("\n")

    text = decode(vocab, ids)
    with open(os.path.join(FIXTURES, "stories260K-greedy.txt"), encoding="utf-8") as f:
        want = f.read()
    print(text)
    if text == want:
        print("MATCH: decoded greedy text equals test/fixtures/stories260K-greedy.txt exactly")
    else:
        n = next((i for i, (a, b) in enumerate(zip(text, want)) if a != b), min(len(text), len(want)))
        print(f"MISMATCH at char {n}: got {text[n:n+60]!r} want {want[n:n+60]!r}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
