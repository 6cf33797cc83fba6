"""Train fashion-vit: a small Vision Transformer on Fashion-MNIST, saved as a Hugging Face folder.

    nice -n 10 /usr/bin/python3 tools/train/fashion_vit.py            # writes models/fashion-vit/

Data: ../shared/data/fashion-mnist ($TESSERA_DATA to move it), the four IDX gzip files, parsed here by
hand: 60,000 training and 10,000 test 28x28 greyscale images in 10 classes. The test images are
never used for training or model selection; they are only scored once, at the end.

The model is HF `ViTForImageClassification` exactly (names, nn.Linear [out, in] weights, pre-LN
blocks, exact-erf GELU, CLS token -> final LayerNorm -> classifier): 28x28x1 images cut into 4x4
patches (49 tokens + CLS). Pixels are scaled to [0, 1] and normalised with the training set's mean
and standard deviation, which preprocessor_config.json records for Tessera's ViTImageProcessor.
Light augmentation: random shifts of up to 2 pixels (zero padding) and horizontal flips. AdamW,
linear warm-up then cosine decay, label smoothing 0.1, fixed seed.

Outputs: config.json (with id2label), preprocessor_config.json, model.safetensors (fp16 when the
test-set predictions are identical to fp32, else fp32), train_log.tsv and metrics.json (accuracy and
PyTorch's predicted class for every test image, the figures `tessera eval` must reproduce).
"""

import argparse
import gzip
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import REPO, LossLog, init_from, data_dir, device_description, nn_linear, seed_everything, write_safetensors

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """IDX (gzip): big-endian magic 0x00000803 (images) or 0x00000801 (labels), dims, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#010x})")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = raw[4 + 4 * ndim :]
    if len(data) != math.prod(dims):
        raise ValueError(f"{path}: {len(data)} data bytes, header says {dims}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(dims)


def load_split(folder, split):
    images = read_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz")).long()
    return images, labels


# ----------------------------------------------------------------------------------------------
# ViT, with module names that make state_dict() the HF ViTForImageClassification checkpoint


class Linear(nn.Module):
    """nn.Linear's layout ([out, in] weight), computed as a oneDNN 1x1 conv (see common.py)."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.weight = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(d_out, d_in), std=0.02))
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x):
        return nn_linear(x, self.weight, self.bias)


class SelfAttention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.query, self.key, self.value = Linear(d, d), Linear(d, d), Linear(d, d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = (m(x).reshape(B, T, self.n_head, D // self.n_head).transpose(1, 2) for m in (self.query, self.key, self.value))
        scale = 1.0 / math.sqrt(D // self.n_head)
        if self.training:
            # bfloat16 batched products (oneDNN): float32 bmm runs on the reference BLAS, ~9x slower
            scores = (q.bfloat16() @ k.bfloat16().transpose(-1, -2)).float() * scale
            out = (torch.softmax(scores, dim=-1).bfloat16() @ v.bfloat16()).float()
        else:
            # exact float32 for evaluation, as broadcast products (vectorised, no BLAS)
            scores = (q.unsqueeze(-2) * k.unsqueeze(-3)).sum(-1) * scale
            out = (torch.softmax(scores, dim=-1).unsqueeze(-1) * v.unsqueeze(-3)).sum(-2)
        return out.transpose(1, 2).reshape(B, T, D)


class Layer(nn.Module):
    def __init__(self, d, n_head, d_ff, eps):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.attention = nn.Module()
        self.attention.attention = SelfAttention(d, n_head)
        self.attention.output = nn.Module()
        self.attention.output.dense = Linear(d, d)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = Linear(d, d_ff)
        self.output = nn.Module()
        self.output.dense = Linear(d_ff, d)

    def forward(self, x):
        x = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class ViT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, p = cfg["hidden_size"], cfg["patch_size"]
        n_patches = (cfg["image_size"] // p) ** 2
        self.vit = nn.Module()
        e = self.vit.embeddings = nn.Module()
        e.cls_token = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(1, 1, d), std=0.02))
        e.position_embeddings = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(1, n_patches + 1, d), std=0.02))
        e.patch_embeddings = nn.Module()
        e.patch_embeddings.projection = nn.Conv2d(cfg["num_channels"], d, p, stride=p)
        self.vit.encoder = nn.Module()
        self.vit.encoder.layer = nn.ModuleList(
            Layer(d, cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"]) for _ in range(cfg["num_hidden_layers"])
        )
        self.vit.layernorm = nn.LayerNorm(d, eps=cfg["layer_norm_eps"])
        self.classifier = Linear(d, cfg["num_labels"])

    def forward(self, pixels):
        e = self.vit.embeddings
        x = e.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)  # [B, patches, D], row-major patches
        x = torch.cat([e.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + e.position_embeddings
        for layer in self.vit.encoder.layer:
            x = layer(x)
        return self.classifier(self.vit.layernorm(x)[:, 0])


# ----------------------------------------------------------------------------------------------


def augment(batch_u8, gen, shift, flip_prob):
    """Random shifts of up to `shift` pixels (zero padding) and horizontal flips, on raw uint8 images."""
    B, H, W = batch_u8.shape
    padded = F.pad(batch_u8, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (B,), generator=gen)
    flip = torch.rand(B, generator=gen) < flip_prob
    out = torch.empty_like(batch_u8)
    for i in range(B):
        img = padded[i, dy[i] : dy[i] + H, dx[i] : dx[i] + W]
        out[i] = img.flip(-1) if flip[i] else img
    return out


@torch.no_grad()
def predict(model, images_u8, mean, std, batch=100):
    model.eval()
    device = next(model.parameters()).device
    logits = torch.cat([model(normalise(images_u8[i : i + batch].to(device), mean, std)).cpu() for i in range(0, len(images_u8), batch)])
    model.train()
    return logits


def normalise(images_u8, mean, std):
    """ViTImageProcessor: rescale by 1/255, then (x - mean) / std; adds the channel axis."""
    return ((images_u8.float() / 255.0 - mean) / std).unsqueeze(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "models", "fashion-vit"))
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=96)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=192)
    p.add_argument("--patch", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--shift", type=int, default=2)
    p.add_argument("--flip-prob", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--init-from", help="continue from the model a previous run saved in this folder (a second stage)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cuda: the same recipe on a GPU (same metrics, not the same bits)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    args = p.parse_args()

    seed_everything(args.seed, args.threads, args.device)
    folder = os.path.join(data_dir(), "fashion-mnist")
    train_x, train_y = load_split(folder, "train")
    test_x, test_y = load_split(folder, "t10k")
    scaled = train_x.double() / 255.0
    mean, std = scaled.mean().item(), scaled.std().item()

    config = {
        "model_type": "vit",
        "architectures": ["ViTForImageClassification"],
        "image_size": 28,
        "patch_size": args.patch,
        "num_channels": 1,
        "hidden_size": args.dim,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "intermediate_size": args.mlp,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "qkv_bias": True,
        "num_labels": len(CLASSES),
        "id2label": {str(i): name for i, name in enumerate(CLASSES)},
        "label2id": {name: i for i, name in enumerate(CLASSES)},
    }
    preprocessor = {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True,
        "size": {"height": 28, "width": 28},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [round(mean, 6)],
        "image_std": [round(std, 6)],
    }
    mean, std = preprocessor["image_mean"][0], preprocessor["image_std"][0]  # train with exactly what is shipped

    model = ViT(config)
    stages = init_from(args.init_from, args.out, model) if args.init_from else []
    model.to(args.device)
    n_params = sum(t.numel() for t in model.parameters())
    decay = [t for n, t in model.named_parameters() if t.dim() >= 2 and "embeddings" not in n]
    no_decay = [t for n, t in model.named_parameters() if not (t.dim() >= 2 and "embeddings" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    steps_per_epoch = len(train_x) // args.batch
    total_steps = args.epochs * steps_per_epoch

    def lr_at(step):
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        progress = (step - args.warmup_steps) / max(1, total_steps - args.warmup_steps)
        return args.lr * 0.5 * (1 + math.cos(math.pi * progress))

    gen = torch.Generator().manual_seed(args.seed)
    if not args.time_steps:
        os.makedirs(args.out, exist_ok=True)
        log = LossLog(os.path.join(args.out, "train_log.tsv"), ["step", "epoch", "lr", "train_loss", "train_accuracy", "elapsed_s"])
    print(f"params {n_params}, mean {mean}, std {std}, {steps_per_epoch} steps/epoch", flush=True)
    t0 = time.time()
    step = 0
    running_loss, running_correct, running_n = 0.0, 0, 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x), generator=gen)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch : (b + 1) * args.batch]
            x = normalise(augment(train_x[idx], gen, args.shift, args.flip_prob), mean, std)
            x, y = x.to(args.device), train_y[idx].to(args.device)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            running_loss += loss.item() * len(y)
            running_correct += (logits.argmax(-1) == y).sum().item()
            running_n += len(y)
            if args.time_steps:
                print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.1f}s", flush=True)
                if step == args.time_steps:
                    print(f"{(time.time() - t0) / step:.3f} s/step")
                    return
                continue
            if step % args.log_every == 0 or step == total_steps:
                elapsed = time.time() - t0
                log.write(step, round(step / steps_per_epoch, 3), lr_at(step - 1), running_loss / running_n, running_correct / running_n, round(elapsed, 1))
                print(f"step {step} (epoch {step / steps_per_epoch:.2f}): loss {running_loss / running_n:.4f}, "
                      f"acc {running_correct / running_n:.4f}, {elapsed:.0f}s", flush=True)
                last_train_loss = running_loss / running_n
                running_loss, running_correct, running_n = 0.0, 0, 0
    log.close()
    train_time = time.time() - t0

    # fp16 storage if every test prediction stays the same
    f32_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    logits32 = predict(model, test_x, mean, std)
    model.load_state_dict({k: v.half().float() for k, v in f32_state.items()})
    logits16 = predict(model, test_x, mean, std)
    use_f16 = bool((logits16.argmax(-1) == logits32.argmax(-1)).all())
    logits = logits16 if use_f16 else logits32
    dtype = torch.float16 if use_f16 else torch.float32
    write_safetensors(os.path.join(args.out, "model.safetensors"), {k: v.to(dtype).contiguous() for k, v in f32_state.items()}, {"format": "pt"})
    for name, obj in (("config.json", config), ("preprocessor_config.json", preprocessor)):
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    predictions = logits.argmax(-1)
    confusion = torch.zeros(10, 10, dtype=torch.long)
    for t, pr in zip(test_y.tolist(), predictions.tolist()):
        confusion[t, pr] += 1
    metrics = {
        "test_accuracy": (predictions == test_y).float().mean().item(),
        "test_images": len(test_y),
        "per_class_accuracy": {CLASSES[c]: confusion[c, c].item() / confusion[c].sum().item() for c in range(10)},
        "confusion_matrix": confusion.tolist(),
        "test_predictions": "".join(str(c) for c in predictions.tolist()),
        "test_logits_first_8": [[round(v, 6) for v in row] for row in logits[:8].tolist()],
        "parameters": n_params,
        "storage_dtype": "float16" if use_f16 else "float32",
        "fp16_predictions_identical": use_f16,
        "train_time_s": round(train_time, 1),
        "final_train_loss": last_train_loss,
        "hyperparameters": vars(args) | {"out": os.path.relpath(args.out, REPO)},
        "stages": stages,
        "total_train_time_s": round(train_time + sum(s["train_time_s"] for s in stages), 1),
        "normalisation": {"mean": mean, "std": std},
        "torch": torch.__version__,
        "trained_on": device_description(args.device, args.threads),
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(json.dumps({k: metrics[k] for k in ("test_accuracy", "storage_dtype", "train_time_s")}), flush=True)


if __name__ == "__main__":
    main()
