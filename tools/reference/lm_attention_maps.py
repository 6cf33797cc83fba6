"""Golden attention pictures: the softmax probabilities of every head, for `LanguageModel.attentionMaps`.

    /usr/bin/python3 tools/reference/lm_attention_maps.py

Writes
  - test/fixtures/models/gpt2-bytes-tiny/: a random GPT-2 (2 layers, 4 heads, 64 positions) whose
    tokenizer is byte-level (GPT-2 BPE with no merges: byte b is token b, as shakespeare-gpt's), so
    text prompts work; config.json, model.safetensors, vocab.json, merges.txt. The LM demo page's
    test runs it;
  - test/fixtures/lm-attention-maps.json: for gpt2-bytes-tiny and llama-tiny (grouped-query heads,
    RoPE) and a few token sequences, maps[layer] = [heads, T, T] probabilities, row i the weights
    query i puts on keys 0..i (zeros above the diagonal), 7 significant digits.

The probabilities are those of the float64 reference models in lm_models.py, unchanged: each of
their attention layers calls torch.softmax exactly once (and nothing else does), so recording
torch.softmax's results while the model runs gives every layer's probabilities in order.
"""

import json
import os

import torch

import lm_models as lm
from imagegen_reference import byte_vocab, gpt2_weights

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "test", "fixtures", "models")

GPT2_BYTES_CONFIG = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "vocab_size": 256,
    "n_positions": 64,
    "n_embd": 48,
    "n_layer": 2,
    "n_head": 4,
    "n_inner": None,
    "layer_norm_epsilon": 1e-5,
    "activation_function": "gelu_new",
    "tie_word_embeddings": True,
    "bos_token_id": None,
    "eos_token_id": None,
}


def recorded_softmax(model, ids):
    """Run the model on ids; return the probabilities of every torch.softmax call, in call order."""
    calls = []
    softmax = torch.softmax

    def recording(*args, **kwargs):
        out = softmax(*args, **kwargs)
        calls.append(out)
        return out

    torch.softmax = recording
    try:
        model(ids)
    finally:
        torch.softmax = softmax
    return calls


def sig7(t):
    return [float("%.7g" % v) for v in t.reshape(-1).tolist()]


def write_gpt2_bytes_tiny():
    folder = os.path.join(MODELS, "gpt2-bytes-tiny")
    os.makedirs(folder, exist_ok=True)
    c = GPT2_BYTES_CONFIG
    weights = gpt2_weights(c, seed=20261126)
    lm.write_safetensors(os.path.join(folder, "model.safetensors"), weights)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(byte_vocab(), f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
    return c, lm.read_safetensors(os.path.join(folder, "model.safetensors"))


def main():
    gpt2_config, gpt2_stored = write_gpt2_bytes_tiny()
    with open(os.path.join(MODELS, "llama-tiny", "config.json")) as f:
        llama_config = json.load(f)
    llama_stored = lm.read_safetensors(os.path.join(MODELS, "llama-tiny", "model.safetensors"))

    g = torch.Generator().manual_seed(7)
    cases = {
        "gpt2-bytes-tiny": (
            lm.GPT2LMHeadModel(gpt2_config, gpt2_stored),
            gpt2_config["n_layer"],
            [list(b"To be, or not to be"), list(b"a"), list(b"Now is the winter of our discontent, made glorious.")],
        ),
        "llama-tiny": (
            lm.LlamaForCausalLM(llama_config, llama_stored),
            llama_config["num_hidden_layers"],
            [[1] + torch.randint(3, llama_config["vocab_size"], (28,), generator=g).tolist()],
        ),
    }
    out = {}
    for name, (model, layers, sequences) in cases.items():
        out[name] = []
        for ids in sequences:
            probs = recorded_softmax(model, ids)
            assert len(probs) == layers, f"{name}: expected {layers} softmax calls, got {len(probs)}"
            out[name].append({"ids": ids, "maps": [sig7(p) for p in probs]})  # each p is [H, T, T]
    path = os.path.join(ROOT, "test", "fixtures", "lm-attention-maps.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes) and test/fixtures/models/gpt2-bytes-tiny/")


if __name__ == "__main__":
    main()
