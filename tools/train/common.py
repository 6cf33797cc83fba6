"""What the training scripts share: seeding, the data folder, a fast linear layer, and the loss log.

Why `conv_linear`: Debian's python3-torch links the reference (netlib) BLAS, so `x @ W` runs at
~3-6 GFLOP/s on this CPU, while a 1x1 convolution goes through oneDNN at ~100-170 GFLOP/s. Writing
every projection as a 1x1 conv over [1, in, rows, 1] makes training ~30x faster and computes exactly
the same function (y = x W + b), so the checkpoints are ordinary Hugging Face weights.

Run with Debian's torch: /usr/bin/python3 (torch 1.13).
"""

import json
import os
import random
import sys

import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))

from lm_models import read_safetensors, write_safetensors  # noqa: E402,F401  (re-exported)


def data_dir():
    """$TESSERA_DATA, else ../shared/data next to the repository (never copied into it)."""
    return os.path.abspath(os.environ.get("TESSERA_DATA", os.path.join(REPO, "..", "shared", "data")))


def seed_everything(seed, threads=2, device="cpu"):
    """Fixed seeds and deterministic kernels. On CUDA (`--device cuda`, for a quick run on a GPU) cuBLAS
    needs a fixed workspace to be deterministic, and an op with no deterministic CUDA kernel only warns:
    a GPU run is repeatable on the same GPU and torch build, but its weights differ from a CPU run's."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def device_description(device, threads):
    """What metrics.json records as `trained_on`: the GPU's name, or the CPU thread count."""
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU, {threads} threads"


def _rows_as_conv(x, weight_out_in, bias):
    """x [..., in] @ weight^T + bias, as a 1x1 conv. torch sends a 1x1 conv with batch < 16 on one
    thread to its slow im2col path, so rows are split into a batch of 16 when they divide evenly.
    On a GPU the plain matrix product is the fast path."""
    if x.is_cuda:
        return F.linear(x, weight_out_in, bias)
    d_in, d_out = x.shape[-1], weight_out_in.shape[0]
    rows = x.numel() // d_in
    n = 16 if rows % 16 == 0 else 1
    inp = x.reshape(n, rows // n, d_in).permute(0, 2, 1).unsqueeze(-1)  # [n, in, rows/n, 1]
    y = F.conv2d(inp, weight_out_in.reshape(d_out, d_in, 1, 1), bias)  # [n, out, rows/n, 1]
    return y.squeeze(-1).permute(0, 2, 1).reshape(*x.shape[:-1], d_out)


def conv_linear(x, weight_in_out, bias=None):
    """y = x @ W + b for W stored [in, out] (GPT-2 Conv1D layout), computed by oneDNN."""
    return _rows_as_conv(x, weight_in_out.t(), bias)


def nn_linear(x, weight_out_in, bias=None):
    """y = x @ W^T + b for W stored [out, in] (nn.Linear layout), computed by oneDNN."""
    return _rows_as_conv(x, weight_out_in, bias)


class LossLog:
    """A TSV loss curve, flushed every line so a running job can be watched with `tail -f`."""

    def __init__(self, path, columns):
        self.file = open(path, "w")
        self.file.write("\t".join(columns) + "\n")
        self.file.flush()

    def write(self, *values):
        self.file.write("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


def init_from(folder, out_dir, model):
    """`--init-from DIR`: continue from the weights a previous run stored in DIR (as stored, so fp16
    rounding included; the optimizer starts afresh). Returns the earlier stages' records for this
    run's metrics.json; when DIR is the output folder, its loss log is kept as train_log.stageN.tsv."""
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    with open(os.path.join(folder, "metrics.json")) as f:
        previous = json.load(f)
    stages = previous.pop("stages", [])
    log = os.path.join(folder, "train_log.tsv")
    if os.path.abspath(folder) == os.path.abspath(out_dir) and os.path.exists(log):
        kept = f"train_log.stage{len(stages) + 1}.tsv"
        os.replace(log, os.path.join(folder, kept))
        previous["log"] = kept
    for bulky in ("greedy_samples", "test_predictions", "confusion_matrix", "test_logits_first_8", "per_class_accuracy"):
        previous.pop(bulky, None)
    return stages + [previous]
