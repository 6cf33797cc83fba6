"""Plain-PyTorch golden references for Tessera's language models.

There is no `transformers` package on this machine, so GPT-2 and Llama are written out here by hand,
following Hugging Face's modeling_gpt2.py / modeling_llama.py line by line (eval mode, no dropout, no
KV cache: every call recomputes the whole sequence, which is what a golden reference wants).

Weights are taken from a flat dict of HF parameter names -> tensors and cast to float64, so every
golden number is computed in double precision from whatever (f32, f16-rounded, bf16-rounded) values
the fixture stores. Also here: a tiny safetensors writer/reader (the format is simple enough to do
by hand) and the Llama q/k row permutations between HF's rotate_half RoPE and Meta/llama2.c's
adjacent-pair RoPE.

Run with Debian's torch: /usr/bin/python3 (torch 1.13).
"""

import json
import math
import struct
import sys

import torch

F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# safetensors: u64 little-endian header length N, N bytes of JSON (space-padded to a multiple of
# 8), then the raw little-endian tensor bytes; data_offsets are relative to the end of the header.

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
_TORCH_DTYPES = {v: k for k, v in SAFETENSORS_DTYPES.items()}
_SAME_SIZE_INT = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def _tensor_bytes(t):
    assert sys.byteorder == "little", "safetensors data is little-endian"
    # view as a same-width integer so bfloat16 (which numpy lacks) round-trips bit-exactly
    return t.contiguous().view(_SAME_SIZE_INT[t.dtype]).numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _TORCH_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        ints = torch.frombuffer(bytearray(body[begin:end]), dtype=_SAME_SIZE_INT[dtype])
        out[name] = ints.view(dtype).reshape(info["shape"]).clone()
    return out


# ----------------------------------------------------------------------------------------------
# GPT-2 (HF GPT2LMHeadModel). Conv1D stores weight as [in, out] and computes y = x @ W + b.


def gelu_new(x):
    # HF ACT2FN["gelu_new"]: the tanh approximation used by the original GPT-2
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2LMHeadModel:
    def __init__(self, config, weights):
        self.n_head = config["n_head"]
        self.n_layer = config["n_layer"]
        self.eps = config.get("layer_norm_epsilon", 1e-5)
        assert config.get("activation_function", "gelu_new") == "gelu_new"
        # accept both "transformer.h.0..." (GPT2LMHeadModel) and "h.0..." (GPT2Model) names;
        # attn.bias / attn.masked_bias are causal-mask buffers, not parameters
        self.w = {}
        for name, t in weights.items():
            name = name[len("transformer."):] if name.startswith("transformer.") else name
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue
            self.w[name] = t.to(F64)

    def _ln(self, x, prefix):
        return torch.nn.functional.layer_norm(
            x, (x.shape[-1],), self.w[prefix + ".weight"], self.w[prefix + ".bias"], self.eps
        )

    def _conv1d(self, x, prefix):
        return x @ self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _attn(self, x, p):
        T, D = x.shape
        hd = D // self.n_head
        q, k, v = self._conv1d(x, p + ".attn.c_attn").split(D, dim=-1)
        q, k, v = (t.view(T, self.n_head, hd).transpose(0, 1) for t in (q, k, v))  # [H, T, hd]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, torch.finfo(F64).min)
        probs = torch.softmax(scores, dim=-1)
        out = (probs @ v).transpose(0, 1).reshape(T, D)
        return self._conv1d(out, p + ".attn.c_proj")

    def __call__(self, ids):
        """ids: list of ints -> float64 logits [T, vocab]."""
        ids = torch.tensor(ids, dtype=torch.long)
        x = self.w["wte.weight"][ids] + self.w["wpe.weight"][torch.arange(len(ids))]
        for i in range(self.n_layer):
            p = f"h.{i}"
            x = x + self._attn(self._ln(x, p + ".ln_1"), p)
            h = gelu_new(self._conv1d(self._ln(x, p + ".ln_2"), p + ".mlp.c_fc"))
            x = x + self._conv1d(h, p + ".mlp.c_proj")
        x = self._ln(x, "ln_f")
        return x @ self.w["wte.weight"].T  # lm_head is tied to wte


# ----------------------------------------------------------------------------------------------
# Llama (HF LlamaForCausalLM), HF rotate_half RoPE: within each head, dimension i is paired with
# i + head_dim/2 and both use frequency theta^(-2i/head_dim).


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(T, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=F64) / head_dim))
    freqs = torch.outer(torch.arange(T, dtype=F64), inv_freq)  # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, hd]
    return emb.cos(), emb.sin()


def apply_rope_rotate_half(x, cos, sin):
    """x [H, T, hd] in HF layout."""
    return x * cos + rotate_half(x) * sin


def apply_rope_adjacent(x, theta):
    """x [H, T, hd] in Meta/llama2.c layout: pairs (2i, 2i+1) rotated by angle pos * theta^(-2i/hd)."""
    H, T, hd = x.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=F64) / hd))
    ang = torch.outer(torch.arange(T, dtype=F64), inv_freq)  # [T, hd/2]
    cos, sin = ang.cos(), ang.sin()
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def permute_meta_to_hf(w, n_heads):
    """HF convert_llama_weights_to_hf.py `permute`: Meta row (h, 2i+j) -> HF row (h, j*hd/2 + i)."""
    rows, dim = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, dim).transpose(1, 2).reshape(rows, dim)


def permute_hf_to_meta(w, n_heads):
    """Inverse: maps HF q_proj/k_proj rows onto the adjacent-pair (llama2.c / Tessera ropeOp) layout."""
    rows, dim = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, dim).transpose(1, 2).reshape(rows, dim)


class LlamaForCausalLM:
    """rope='rotate_half' expects HF-layout q/k weights; rope='adjacent' expects Meta/llama2.c layout."""

    def __init__(self, config, weights, rope="rotate_half"):
        self.n_layer = config["num_hidden_layers"]
        self.n_head = config["num_attention_heads"]
        self.n_kv_head = config.get("num_key_value_heads", self.n_head)
        self.head_dim = config["hidden_size"] // self.n_head
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.theta = config.get("rope_theta", 10000.0)
        self.rope = rope
        self.w = {name: t.to(F64) for name, t in weights.items()}
        if config.get("tie_word_embeddings", False):
            self.lm_head = self.w["model.embed_tokens.weight"]
        else:
            self.lm_head = self.w["lm_head.weight"]

    def _rope(self, x):
        if self.rope == "adjacent":
            return apply_rope_adjacent(x, self.theta)
        cos, sin = rope_cos_sin(x.shape[1], self.head_dim, self.theta)
        return apply_rope_rotate_half(x, cos, sin)

    def _attn(self, x, p):
        T = x.shape[0]
        hd, H, KV = self.head_dim, self.n_head, self.n_kv_head
        q = (x @ self.w[p + ".q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
        k = (x @ self.w[p + ".k_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        v = (x @ self.w[p + ".v_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        q, k = self._rope(q), self._rope(k)
        # grouped-query attention (HF repeat_kv): query head h reads kv head h // (H / KV)
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        out = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, H * hd)
        return out @ self.w[p + ".o_proj.weight"].T

    def __call__(self, ids):
        """ids: list of ints -> float64 logits [T, vocab]."""
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        for i in range(self.n_layer):
            p = f"model.layers.{i}"
            x = x + self._attn(rms_norm(x, self.w[p + ".input_layernorm.weight"], self.eps), p + ".self_attn")
            h = rms_norm(x, self.w[p + ".post_attention_layernorm.weight"], self.eps)
            gate = torch.nn.functional.silu(h @ self.w[p + ".mlp.gate_proj.weight"].T)
            up = h @ self.w[p + ".mlp.up_proj.weight"].T
            x = x + (gate * up) @ self.w[p + ".mlp.down_proj.weight"].T
        x = rms_norm(x, self.w["model.norm.weight"], self.eps)
        return x @ self.lm_head.T


def greedy(model, prompt, new_tokens):
    """Full recompute per step; returns only the generated ids."""
    ids = list(prompt)
    for _ in range(new_tokens):
        ids.append(int(model(ids)[-1].argmax()))
    return ids[len(prompt) :]


# ----------------------------------------------------------------------------------------------
# Hugging Face `generate()` for a decoder-only model, greedy search, as transformers 4.40-4.45 do it
# (the release range tools/reference/marian_reference.py follows too).

# GenerationConfig.__init__'s defaults for the keys below.
GENERATION_DEFAULTS = {
    "max_length": 20,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "do_sample": False,
    "eos_token_id": None,
    "pad_token_id": None,
    "bos_token_id": None,
    "bad_words_ids": None,
    "forced_eos_token_id": None,
}


def _ids(value):
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def generation_settings(generation_config, prompt_length, **kwargs):
    """What `generate(input_ids, **kwargs)` makes of a model's generation config for a prompt of
    `prompt_length` tokens: kwargs update a copy of the config; `_prepare_generated_length` turns
    max_new_tokens / min_new_tokens into max_length / min_length counting the prompt (a decoder-only
    model's input_ids are the prompt), else max_length (default 20) and min_length count the prompt
    themselves; `NoBadWordsLogitsProcessor` drops the bad words that are a single EOS id."""
    unknown = set(kwargs) - set(GENERATION_DEFAULTS)
    assert not unknown, f"not a generation key: {unknown}"
    gc = {**GENERATION_DEFAULTS, **generation_config, **kwargs}
    eos = _ids(gc["eos_token_id"])
    max_length = gc["max_length"] if gc["max_new_tokens"] is None else prompt_length + gc["max_new_tokens"]
    min_length = gc["min_length"] if gc["min_new_tokens"] is None else prompt_length + gc["min_new_tokens"]
    bad = [list(w) for w in gc["bad_words_ids"] or [] if not any(list(w) == [e] for e in eos)]
    return {"max_length": max_length, "min_length": min_length, "eos": eos, "bad_words": bad, "forced_eos": _ids(gc["forced_eos_token_id"])}


def process_scores(scores, seq, s):
    """The processors of `_get_logits_processor` for these keys, in its order, on the next-token
    logits after the tokens `seq` (prompt included):
    - NoBadWords (SequenceBiasLogitsProcessor with bias -inf): a one-token word is always banned; a
      longer word bans its last token when `seq` ends with the rest of it, and is skipped while the
      word is longer than `seq`;
    - MinLength / MinNewTokensLength: every EOS id is banned while len(seq) < min_length;
    - ForcedEOS: when len(seq) == max_length - 1, everything but the forced ids is -inf (they get 0)."""
    scores = scores.clone()
    cur_len = len(seq)
    for word in s["bad_words"]:
        if len(word) == 1:
            scores[word[0]] = -math.inf
        elif len(word) <= cur_len and seq[cur_len - len(word) + 1 :] == word[:-1]:
            scores[word[-1]] = -math.inf
    if s["eos"] and cur_len < s["min_length"]:
        scores[s["eos"]] = -math.inf
    if s["forced_eos"] and cur_len == s["max_length"] - 1:
        scores[:] = -math.inf
        scores[s["forced_eos"]] = 0
    return scores


def generate(model, prompt, generation_config, **kwargs):
    """`model.generate(prompt, **kwargs)` with greedy search (do_sample false, one beam): the argmax
    of the processed logits until an EOS id (kept in the output) or max_length. As in HF, at least
    one token is generated even when the prompt already reaches max_length. Returns the generated
    ids and the smallest top-1/top-2 gap among the finite processed scores of its decisions."""
    s = generation_settings(generation_config, len(prompt), **kwargs)
    seq, margin = list(prompt), math.inf
    while True:
        scores = process_scores(model(seq)[-1], seq, s)
        finite = scores[torch.isfinite(scores)]
        if finite.numel() > 1:
            top2 = finite.topk(2).values
            margin = min(margin, (top2[0] - top2[1]).item())
        seq.append(int(scores.argmax()))
        if seq[-1] in s["eos"] or len(seq) >= s["max_length"]:
            return seq[len(prompt) :], margin
