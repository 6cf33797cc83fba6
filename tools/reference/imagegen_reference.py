"""Tiny image-token generator checkpoints (Tessera's format, see docs/api.md) plus PyTorch golden outputs.

    /usr/bin/python3 tools/reference/imagegen_reference.py

Writes two folders under test/fixtures/models/, each a complete checkpoint:

  imagegen-tiny          GPT-2 naming, a 6x5 grid of 3x3-pixel patches (K = 16), BOS + text + IMAGE_START,
                         GPT-2 byte-level tokenizer with no merges (vocab.json + merges.txt)
  imagegen-palette-llama Llama naming, a 7x4 grid of single pixels (a palette, K = 11), no BOS,
                         the same tokenizer as a Hugging Face tokenizer.json

config.json is the Hugging Face config plus the `imagegen` block; model.safetensors holds the
Transformer's tensors and `codebook` U8 [K, p, p, 3]. golden.json holds, in float64 from the weights
as stored:

  prompt, prompt_ids           the text and the ids the image follows ([BOS] text bytes [IMAGE_START])
  logits {ids, logits}         [T, V] logits of the prompt ids plus the first 7 image tokens (7 digits)
  tokens                       the greedy grid, H*W vocabulary ids in raster order, decoded with every
                               logit outside the image-token range masked out (full recompute per step)
  min_gap                      smallest top-1/top-2 logit gap inside the range along that path
  pixels                       {width, height, rgb}: the grid through the codebook (rgb: base64 bytes)
  nearest4, bilinear4          the same up-sampled x4 by F.interpolate (nearest; bilinear with
                               align_corners=False), rounded half to even and clamped to 0..255
"""

import base64
import json
import os

import torch
import torch.nn.functional as F

import lm_models as lm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models")

# lm_models' writer knows the float dtypes; the codebook is bytes.
lm.SAFETENSORS_DTYPES[torch.uint8] = "U8"
lm._SAME_SIZE_INT[torch.uint8] = torch.uint8

TEXT_VOCAB = 256  # one token per byte
PROMPTS = ["a red fox", "blue sky over a green hill", "x", "two cats", "sunset"]


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def byte_vocab():
    """Byte b is token b: a character-level (byte-level) tokenizer as GPT-2 BPE with no merges."""
    return {symbol: b for b, symbol in sorted(bytes_to_unicode().items())}


def randn(g, shape, std, mean=0.0):
    return torch.randn(shape, generator=g, dtype=torch.float32) * std + mean


def gpt2_weights(c, seed):
    g = torch.Generator().manual_seed(seed)
    D, V, P = c["n_embd"], c["vocab_size"], c["n_positions"]
    # strong position embeddings: the tied-embedding random model then draws varied grids
    w = {"transformer.wte.weight": randn(g, [V, D], 0.1), "transformer.wpe.weight": randn(g, [P, D], 0.5)}
    for i in range(c["n_layer"]):
        p = f"transformer.h.{i}"
        w[p + ".ln_1.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".ln_1.bias"] = randn(g, [D], 0.05)
        w[p + ".attn.c_attn.weight"] = randn(g, [D, 3 * D], 0.1)
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


def llama_weights(c, seed):
    g = torch.Generator().manual_seed(seed)
    D, V, Fh = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    kv = c["num_key_value_heads"] * (D // c["num_attention_heads"])
    w = {"model.embed_tokens.weight": randn(g, [V, D], 0.2)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        w[p + ".input_layernorm.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".self_attn.q_proj.weight"] = randn(g, [D, D], 0.3)
        w[p + ".self_attn.k_proj.weight"] = randn(g, [kv, D], 0.3)
        w[p + ".self_attn.v_proj.weight"] = randn(g, [kv, D], 0.2)
        w[p + ".self_attn.o_proj.weight"] = randn(g, [D, D], 0.2)
        w[p + ".post_attention_layernorm.weight"] = randn(g, [D], 0.1, 1.0)
        w[p + ".mlp.gate_proj.weight"] = randn(g, [Fh, D], 0.2)
        w[p + ".mlp.up_proj.weight"] = randn(g, [Fh, D], 0.2)
        w[p + ".mlp.down_proj.weight"] = randn(g, [D, Fh], 0.2)
    w["model.norm.weight"] = randn(g, [D], 0.1, 1.0)
    w["lm_head.weight"] = randn(g, [V, D], 0.2)
    return w


# ----------------------------------------------------------------------------------------------
# The generator: constrained greedy decoding, detokenizing and up-sampling, as Tessera defines them.


def prompt_ids(spec, text):
    ids = [spec["bos_token_id"]] if spec.get("bos_token_id") is not None else []
    return ids + list(text.encode("utf-8")) + [spec["image_start_token_id"]]


def greedy_grid(model, spec, prefix):
    """H*W image tokens after `prefix`, argmax over the image-token range only; also the smallest top-1/top-2 gap."""
    start, end = spec["image_token_start"], spec["image_token_start"] + spec["image_token_count"]
    ids, gap = list(prefix), float("inf")
    for _ in range(spec["grid_height"] * spec["grid_width"]):
        allowed = model(ids)[-1, start:end]
        top2 = allowed.topk(2).values
        gap = min(gap, (top2[0] - top2[1]).item())
        ids.append(start + int(allowed.argmax()))
    return ids[len(prefix):], gap


def detokenize(spec, codebook, tokens):
    """Token grid -> [H*p, W*p, 3] uint8: each token's codebook patch in place."""
    H, W, p = spec["grid_height"], spec["grid_width"], spec["patch_size"]
    codes = torch.tensor(tokens).view(H, W) - spec["image_token_start"]
    patches = codebook[codes]  # [H, W, p, p, 3]
    return patches.permute(0, 2, 1, 3, 4).reshape(H * p, W * p, 3)


def upsample(image, scale, mode):
    x = image.permute(2, 0, 1)[None].to(torch.float32)
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    y = F.interpolate(x, scale_factor=scale, mode=mode, **kwargs)
    return y.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).contiguous()


def picture(image):
    h, w, _ = image.shape
    return {"width": w, "height": h, "rgb": base64.b64encode(image.numpy().tobytes()).decode("ascii")}


def round7(x):
    return float(f"{x:.7g}")


def write_checkpoint(name, config, weights, codebook, model, tokenizer_files):
    spec = config["imagegen"]
    K = spec["image_token_count"]
    # a prompt whose greedy grid is unambiguous (no near-tie a float32 engine could flip) and varied
    for text in PROMPTS:
        prefix = prompt_ids(spec, text)
        tokens, gap = greedy_grid(model, spec, prefix)
        if gap > 2e-3 and len(set(tokens)) >= min(K, 6):
            break
    else:
        raise AssertionError(f"{name}: no prompt with an unambiguous, varied greedy grid")

    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    tensors = dict(weights, codebook=codebook)
    path = os.path.join(folder, "model.safetensors")
    lm.write_safetensors(path, tensors, metadata={"format": "pt"})
    for file_name, content in tokenizer_files.items():
        with open(os.path.join(folder, file_name), "w", encoding="utf-8") as f:
            f.write(content)

    ids = prefix + tokens[:7]
    logits = model(ids)
    assert torch.isfinite(logits).all() and logits.abs().max() > 0.1, "logits look trivial"
    pixels = detokenize(spec, codebook, tokens)
    golden = {
        "prompt": text,
        "prompt_ids": prefix,
        "logits": {"ids": ids, "logits": [[round7(v) for v in row.tolist()] for row in logits]},
        "tokens": tokens,
        "min_gap": gap,
        "pixels": picture(pixels),
        "nearest4": picture(upsample(pixels, 4, "nearest")),
        "bilinear4": picture(upsample(pixels, 4, "bilinear")),
    }
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    print(f"{name}: {size / 1024:.1f} KiB, prompt {text!r}, min gap {gap:.3g}, {len(set(tokens))} distinct tokens: {tokens}")


def main():
    torch.set_num_threads(1)
    vocab = byte_vocab()

    # GPT-2 naming, 3x3 patches: text 0..255, image 256..271, BOS 272, IMAGE_START 273.
    K = 16
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": TEXT_VOCAB + K + 2,
        "n_positions": 64,
        "n_embd": 48,
        "n_layer": 2,
        "n_head": 3,
        "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new",
        "tie_word_embeddings": True,
        "bos_token_id": TEXT_VOCAB + K,
        "eos_token_id": TEXT_VOCAB + K,
        "imagegen": {
            "image_token_start": TEXT_VOCAB,
            "image_token_count": K,
            "grid_height": 6,
            "grid_width": 5,
            "patch_size": 3,
            "bos_token_id": TEXT_VOCAB + K,
            "image_start_token_id": TEXT_VOCAB + K + 1,
        },
    }
    weights = gpt2_weights(config, seed=31)
    codebook = torch.randint(0, 256, [K, 3, 3, 3], generator=torch.Generator().manual_seed(32), dtype=torch.uint8)
    files = {"vocab.json": json.dumps(vocab, ensure_ascii=False), "merges.txt": "#version: 0.2\n"}
    write_checkpoint("imagegen-tiny", config, weights, codebook, lm.GPT2LMHeadModel(config, weights), files)

    # Llama naming, a palette (p = 1): text 0..255, image 256..266, IMAGE_START 267; no BOS.
    K = 11
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": TEXT_VOCAB + K + 1,
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": 64,
        "tie_word_embeddings": False,
        "bos_token_id": TEXT_VOCAB + K,
        "eos_token_id": TEXT_VOCAB + K,
        "imagegen": {
            "image_token_start": TEXT_VOCAB,
            "image_token_count": K,
            "grid_height": 7,
            "grid_width": 4,
            "patch_size": 1,
            "image_start_token_id": TEXT_VOCAB + K,
        },
    }
    weights = llama_weights(config, seed=41)
    codebook = torch.randint(0, 256, [K, 1, 1, 3], generator=torch.Generator().manual_seed(42), dtype=torch.uint8)
    tokenizer = {
        "version": "1.0",
        "added_tokens": [],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
    }
    files = {"tokenizer.json": json.dumps(tokenizer, ensure_ascii=False)}
    write_checkpoint("imagegen-palette-llama", config, weights, codebook, lm.LlamaForCausalLM(config, weights), files)


if __name__ == "__main__":
    main()
