"""Train shakespeare-gpt: a character-level GPT-2 on Tiny Shakespeare, saved as a Hugging Face folder.

    nice -n 10 /usr/bin/python3 tools/train/shakespeare_gpt.py            # writes models/shakespeare-gpt/

Data: ../shared/data/tinyshakespeare/input.txt ($TESSERA_DATA to move it), 1,115,394 ASCII bytes.
The first 90 % trains, the last 10 % is held out (never seen in training).

Tokens are bytes: the tokenizer is GPT-2's byte-level BPE with no merges (vocab.json maps GPT-2's
printable symbol for each byte to ids 0-255, merges.txt holds only its version line), so every
character of this ASCII text is one token and loss per token is loss per character.

The model is GPT-2 exactly (HF GPT2LMHeadModel names, Conv1D weights stored [in, out], pre-LN blocks,
gelu_new, LM head tied to wte), trained with AdamW, linear warm-up and cosine decay, no dropout, from
a fixed seed: the same command gives the same weights on the same machine and torch build.

Held-out evaluation (the figure `tessera eval` must reproduce): the held-out bytes are cut into
consecutive non-overlapping windows of n_positions bytes (the last one shorter); each window is one
forward pass from position 0 and every position predicts the next byte, up to the held-out text's
last byte. So every held-out byte after the first is predicted exactly once, with between 1 and
n_positions bytes of context. The loss is the mean negative log-likelihood in nats per character,
computed from the weights as stored in model.safetensors (float32 for the whole text; the first
windows also in float64 by the independent reference in tools/reference/lm_models.py).

Outputs: config.json, model.safetensors (fp16 when greedy continuations are identical to fp32,
else fp32), vocab.json, merges.txt, train_log.tsv (the loss curve) and metrics.json.
"""

import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import REPO, LossLog, init_from, conv_linear, data_dir, read_safetensors, seed_everything, write_safetensors

from lm_models import GPT2LMHeadModel as ReferenceGPT2  # float64, HF layout: an independent check

PROMPTS = ["ROMEO:", "JULIET:\nO ", "First Citizen:\n"]


# ----------------------------------------------------------------------------------------------
# GPT-2's byte alphabet (OpenAI's bytes_to_unicode; Tessera's GPT2_BYTE_SYMBOLS)


def bytes_to_unicode():
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 256
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return table


def write_tokenizer(out_dir):
    symbols = bytes_to_unicode()
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({symbols[b]: b for b in range(256)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")


# ----------------------------------------------------------------------------------------------
# GPT-2, with module names that make state_dict() the HF GPT2LMHeadModel checkpoint


class Conv1D(nn.Module):
    """HF's Conv1D: weight [in, out], y = x W + b."""

    def __init__(self, d_in, d_out, std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_in, d_out) * std)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x):
        return conv_linear(x, self.weight, self.bias)


class Attention(nn.Module):
    def __init__(self, d, n_head, proj_std):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(d, 3 * d, 0.02)
        self.c_proj = Conv1D(d, d, proj_std)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=-1)
        q, k, v = (t.reshape(B, T, self.n_head, D // self.n_head).transpose(1, 2) for t in (q, k, v))
        # Training runs the two batched products in bfloat16: Debian's torch does float32 bmm on the
        # reference BLAS (~2 GFLOP/s), bfloat16 on oneDNN (~9x faster). Evaluation and sampling use float32.
        low = torch.bfloat16 if self.training else q.dtype
        scores = (q.to(low) @ k.to(low).transpose(-1, -2)).to(q.dtype) * (1.0 / math.sqrt(D // self.n_head))
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        probs = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        out = (probs.to(low) @ v.to(low)).to(q.dtype)
        return self.c_proj(out.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, d, proj_std):
        super().__init__()
        self.c_fc = Conv1D(d, 4 * d, 0.02)
        self.c_proj = Conv1D(4 * d, d, proj_std)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # = HF gelu_new


class Block(nn.Module):
    def __init__(self, d, n_head, n_layer, eps):
        super().__init__()
        proj_std = 0.02 / math.sqrt(2 * n_layer)  # GPT-2's scaled init of the residual projections
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, n_head, proj_std)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, proj_std)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(cfg["vocab_size"], d)
        self.transformer.wpe = nn.Embedding(cfg["n_positions"], d)
        nn.init.normal_(self.transformer.wte.weight, std=0.02)
        nn.init.normal_(self.transformer.wpe.weight, std=0.01)
        self.transformer.h = nn.ModuleList(
            Block(d, cfg["n_head"], cfg["n_layer"], cfg["layer_norm_epsilon"]) for _ in range(cfg["n_layer"])
        )
        self.transformer.ln_f = nn.LayerNorm(d, eps=cfg["layer_norm_epsilon"])

    def forward(self, ids):
        t = self.transformer
        x = t.wte(ids) + t.wpe(torch.arange(ids.shape[1]))
        for block in t.h:
            x = block(x)
        return conv_linear(t.ln_f(x), t.wte.weight.t())  # tied LM head: x @ wte^T


# ----------------------------------------------------------------------------------------------
# evaluation


def heldout_windows(held, n_positions):
    """Consecutive non-overlapping windows: (input ids, target ids), every held-out byte after the first predicted once."""
    out = []
    for start in range(0, len(held) - 1, n_positions):
        end = min(start + n_positions, len(held) - 1)
        out.append((held[start:end], held[start + 1 : end + 1]))
    return out


@torch.no_grad()
def windows_nats(model, windows):
    """float32, exact attention, windows batched by length: (sum of nats, number of predicted characters)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    full = [w for w in windows if len(w[0]) == len(windows[0][0])]
    rest = [w for w in windows if len(w[0]) != len(windows[0][0])]
    for group in [full[i : i + 32] for i in range(0, len(full), 32)] + [[w] for w in rest]:
        x = torch.stack([w[0] for w in group])
        y = torch.stack([w[1] for w in group])
        logits = model(x).double()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total, count


def windows_loss_reference(weights, config, windows):
    """float64 reference GPT-2 on the stored weights: (sum of nats, number of predicted characters)."""
    ref = ReferenceGPT2(config, weights)
    total, count = 0.0, 0
    for x, y in windows:
        logp = torch.log_softmax(ref(x.tolist()), dim=-1)
        total += -logp[torch.arange(len(y)), y].sum().item()
        count += len(y)
    return total, count


@torch.no_grad()
def greedy_text(model, prompt, new_tokens, n_positions):
    model.eval()
    ids = list(prompt.encode("ascii"))
    for _ in range(new_tokens):
        logits = model(torch.tensor([ids[-n_positions:]]))
        ids.append(int(logits[0, -1].argmax()))
    return bytes(ids[len(prompt) :]).decode("latin-1")


# ----------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "models", "shakespeare-gpt"))
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--init-from", help="continue from the model a previous run saved in this folder (a second stage)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    p.add_argument("--eval-only", action="store_true", help="only (re)compute the held-out loss of the saved model")
    args = p.parse_args()

    seed_everything(args.seed, args.threads)
    with open(os.path.join(data_dir(), "tinyshakespeare", "input.txt"), "rb") as f:
        raw = f.read()
    data = torch.tensor(list(raw), dtype=torch.long)
    n_train = int(0.9 * len(data))
    train, held = data[:n_train], data[n_train:]

    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": 256,
        "n_positions": args.context,
        "n_embd": args.dim,
        "n_layer": args.layers,
        "n_head": args.heads,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
    }
    model = GPT2(config)
    stages = init_from(args.init_from, args.out, model) if args.init_from else []
    n_params = sum(t.numel() for t in model.parameters())
    decay = [t for t in model.parameters() if t.dim() >= 2]
    no_decay = [t for t in model.parameters() if t.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.99),
    )

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    windows = heldout_windows(held, args.context)
    if args.eval_only:
        with open(os.path.join(args.out, "config.json")) as f:
            evaluate(args.out, heldout_windows(held, json.load(f)["n_positions"]), n_train)
        return
    monitor = windows[:: max(1, len(windows) // 64)][:64]  # a fixed spread-out subset for the loss curve
    batch_gen = torch.Generator().manual_seed(args.seed)

    steps = args.time_steps or args.steps
    if not args.time_steps:
        os.makedirs(args.out, exist_ok=True)
        log = LossLog(os.path.join(args.out, "train_log.tsv"),
                      ["step", "chars_seen", "lr", "train_loss", "heldout_subset_loss", "elapsed_s"])
    print(f"params {n_params}, train {len(train)} chars, held-out {len(held)} chars, {len(windows)} windows", flush=True)
    t0 = time.time()
    running, running_n = 0.0, 0
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        starts = torch.randint(0, len(train) - args.context - 1, (args.batch,), generator=batch_gen)
        x = torch.stack([train[s : s + args.context] for s in starts])
        y = torch.stack([train[s + 1 : s + args.context + 1] for s in starts])
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        running_n += 1
        if args.time_steps:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.1f}s", flush=True)
            continue
        last = step == args.steps - 1
        if (step + 1) % args.eval_every == 0 or last:
            held_nats, held_count = windows_nats(model, monitor)
            held_loss = held_nats / held_count
            elapsed = time.time() - t0
            log.write(step + 1, (step + 1) * args.batch * args.context, lr_at(step), running / running_n, held_loss, round(elapsed, 1))
            print(f"step {step + 1}: train {running / running_n:.4f}, held-out subset {held_loss:.4f}, {elapsed:.0f}s", flush=True)
            running, running_n = 0.0, 0
    if args.time_steps:
        print(f"{(time.time() - t0) / steps:.3f} s/step")
        return
    log.close()
    train_time = time.time() - t0

    # fp16 storage if it leaves greedy continuations unchanged (checked here in float32, and again in Tessera)
    f32_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    samples32 = {pr: greedy_text(model, pr, 300, args.context) for pr in PROMPTS}
    model.load_state_dict({k: v.half().float() for k, v in f32_state.items()})
    samples16 = {pr: greedy_text(model, pr, 300, args.context) for pr in PROMPTS}
    use_f16 = samples16 == samples32
    model.load_state_dict(f32_state)
    dtype = torch.float16 if use_f16 else torch.float32
    stored = {k: v.to(dtype).contiguous() for k, v in f32_state.items()}
    write_safetensors(os.path.join(args.out, "model.safetensors"), stored, {"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_tokenizer(args.out)

    metrics = {
        "parameters": n_params,
        "storage_dtype": "float16" if use_f16 else "float32",
        "fp16_greedy_identical": use_f16,
        "greedy_samples": samples32,
        "final_train_loss": float(log_last_train_loss(args.out)),
        "train_time_s": round(train_time, 1),
        "train_chars_seen": args.steps * args.batch * args.context,
        "hyperparameters": vars(args) | {"out": os.path.relpath(args.out, REPO)},
        "stages": stages,
        "total_train_time_s": round(train_time + sum(s["train_time_s"] for s in stages), 1),
        "torch": torch.__version__,
    }
    write_metrics(args.out, metrics)
    evaluate(args.out, windows, n_train)


def write_metrics(out_dir, metrics):
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


SLICE_WINDOWS = 4  # the short slice the fast Tessera test compares against


def evaluate(out_dir, windows, n_train):
    """The figure `tessera eval` must reproduce, from exactly the stored weights: the whole held-out
    text with this module in float32 (exact attention), and the first SLICE_WINDOWS windows also in
    float64 with the independent reference GPT-2 of tools/reference/lm_models.py."""
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    weights = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    model = GPT2(config)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    nats, count = windows_nats(model, windows)
    slice_nats, slice_count = windows_nats(model, windows[:SLICE_WINDOWS])
    ref_nats, ref_count = windows_loss_reference(weights, config, windows[:SLICE_WINDOWS])
    assert ref_count == slice_count
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    metrics |= {
        "heldout_loss_nats_per_char": nats / count,
        "heldout_bits_per_char": nats / count / math.log(2),
        "heldout_chars_predicted": count,
        "heldout_first_byte": n_train,
        "eval_windows": {"length": config["n_positions"], "count": len(windows), "overlap": 0},
        "slice": {
            "windows": SLICE_WINDOWS,
            "chars_predicted": slice_count,
            "loss_nats_per_char": ref_nats / ref_count,
            "loss_nats_per_char_float32": slice_nats / slice_count,
        },
    }
    write_metrics(out_dir, metrics)
    print(json.dumps({k: metrics[k] for k in ("heldout_loss_nats_per_char", "storage_dtype", "train_time_s")}), flush=True)


def log_last_train_loss(out_dir):
    with open(os.path.join(out_dir, "train_log.tsv")) as f:
        return f.read().strip().split("\n")[-1].split("\t")[3]


if __name__ == "__main__":
    main()
