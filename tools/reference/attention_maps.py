"""Golden attention probabilities for the demos' attention pictures: the ViT's self-attention and
Marian's decoder cross-attention, from the committed tiny fixtures, float64.

    /usr/bin/python3 tools/reference/attention_maps.py     # about a second

The models are the hand-written references (`vit_reference.py`, `marian_reference.py`); both take
their attention probabilities from `torch.softmax`, so this script records every softmax call made
while the model runs (for Marian, labelled with the attention block's weight prefix). Nothing
about the models is re-implemented here. (The language models' maps: `lm_attention_maps.py`.)

Writes test/fixtures/attention-maps.json:

    { "vit":    { "model": "vit-tiny-grey", "pixels": [C*H*W normalised], "logits": [...],
                  "layers": [ [heads][T][T] per layer ] },           T = 1 + patches, row 0 = [CLS]
      "marian": { "model": "marian-tiny", "source": [ids], "target": [ids],
                  "cross":  [ [heads][len(target)][len(source)] per decoder layer ] } }

Marian's rows: row t is the decoder reading input token t (the start token, then target[:-1]) while
it predicts target[t]. Values have 9 significant digits.
"""

import json
import math
import os
from contextlib import contextmanager

import torch

import lm_models as lm
import marian_reference as marian
import vit_reference as vit

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
OUT = os.path.join(ROOT, "test", "fixtures", "attention-maps.json")
F64 = torch.float64


@contextmanager
def recording_softmax(record):
    """Every torch.softmax call appends its result to `record` while the block runs."""
    original = torch.softmax

    def softmax(*args, **kwargs):
        out = original(*args, **kwargs)
        record.append(out)
        return out

    torch.softmax = softmax
    try:
        yield
    finally:
        torch.softmax = original


def flat(t, digits=9):
    return [float(f"%.{digits}g" % v) for v in t.reshape(-1).tolist()]


def nested(t, digits=9):
    if t.dim() == 1:
        return flat(t, digits)
    return [nested(r, digits) for r in t]


def load(name):
    folder = os.path.join(MODELS, name)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    return config, lm.read_safetensors(os.path.join(folder, "model.safetensors"))


def vit_maps():
    """The first batch image of vit-tiny-grey's golden tensors: every layer's [heads, T, T]."""
    name = "vit-tiny-grey"
    config, weights = load(name)
    with open(os.path.join(MODELS, name, "golden.json")) as f:
        golden = json.load(f)["tensors"]
    C, H, W = golden["shape"][1:]
    pixels = torch.tensor(golden["pixels"][: C * H * W], dtype=F64).reshape(1, C, H, W)
    model = vit.ViTForImageClassification(config, weights)
    probs = []
    with recording_softmax(probs):
        logits = model(pixels)[0]
    assert len(probs) == config["num_hidden_layers"]
    return {"model": name, "pixels": flat(pixels), "logits": flat(logits), "layers": [nested(p[0]) for p in probs]}


class RecordingMarian(marian.MarianMTModel):
    """Labels each attention block's softmax with the block's weight prefix."""

    def __init__(self, config, weights, record):
        super().__init__(config, weights)
        self.record = record

    def _attention(self, x, kv, p, heads, key_mask, causal):
        start = len(self.record)
        out = super()._attention(x, kv, p, heads, key_mask, causal)
        assert len(self.record) == start + 1
        self.record[start] = (p, self.record[start])
        return out


def marian_maps():
    """Cross-attention of marian-tiny's decoder fed the start token and target[:-1], for one source."""
    name = "marian-tiny"
    config, weights = load(name)
    source = [44, 12, 9, 80, 3, 71, 26, 50, 0]
    target = [43, 67, 62, 53, 33, 74, 0]
    record = []
    model = RecordingMarian(config, weights, record)
    ids, mask = marian.pad_batch([source], config["pad_token_id"])
    decoder_input = torch.tensor([[config["decoder_start_token_id"]] + target[:-1]])
    with recording_softmax(record):
        model.decode(decoder_input, model.encode(ids, mask), mask)
    cross = [probs[0] for p, probs in record if p.endswith(".encoder_attn")]
    assert len(cross) == config["decoder_layers"]
    return {"model": name, "source": source, "target": target, "cross": [nested(p) for p in cross]}


def main():
    out = {"vit": vit_maps(), "marian": marian_maps()}
    for p in out["vit"]["layers"] + out["marian"]["cross"]:
        for head in p:
            for row in head:
                assert math.isclose(sum(row), 1.0, rel_tol=1e-6), "a probability row does not sum to 1"
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
