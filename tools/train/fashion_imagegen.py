"""Train fashion-imagegen: text -> Fashion-MNIST image tokens, saved as a Tessera image-generator folder.

    nice -n 10 /usr/bin/python3 tools/train/fashion_imagegen.py            # 1: writes models/fashion-imagegen/
    nice -n 10 /usr/bin/python3 tools/train/fashion_imagegen.py --init models/fashion-imagegen \
        --uncond-prob 0.2 --guidance 2 --steps 600 --lr 3e-4 --warmup 50   # 2: once, after 1
    nice -n 10 /usr/bin/python3 tools/train/fashion_imagegen.py --eval-only   # re-score the saved model
    nice -n 10 /usr/bin/python3 tools/train/fashion_imagegen.py --eval-only --guidance 1   # ... without guidance

The shipped model is these two runs. Run 1 used the defaults below with `--device cuda --threads 8`
(one H100, torch 2.11, CUBLAS_WORKSPACE_CONFIG=:4096:8): 5,000 steps in 253 s. On the 2-core CPU a
step takes about 1.65 s, so run 1 would take about 2.3 hours there. Run 2 continues it on the CPU
(600 steps, 1,067 s): one image in five gets the empty prompt, which teaches the unconditional
distribution that classifier-free guidance needs, and config.json gets `guidance_scale` 2. On CUDA
a few kernels (embedding backward) have no deterministic version, so a rerun there can differ in the
last bits; the CPU path (the default) is deterministic.

Data: ../shared/data/fashion-mnist ($TESSERA_DATA to move it), the 60,000 training images and labels
(read by fashion_vit.py's IDX parser). The test images are only used to measure the codebook.

1. Codebook. Each 28x28 image is cut into a 7x7 grid of 4x4 patches. k-means (Lloyd's algorithm,
   seeded, on a fixed sample of training patches) finds K patches; the centroids are rounded to bytes
   and every training patch becomes the id of its nearest rounded centroid. The codebook is stored as
   U8 [K, 4, 4, 3] with R = G = B (greyscale as RGB, the format Tessera's detokenize kernel reads).
2. Sequences, in Tessera's image-generator layout (docs/api.md, "Checkpoint format"):
       [BOS]  prompt bytes  [IMAGE_START]  t(0,0) t(0,1) ... t(6,6)
   Text tokens are bytes 0..255 (GPT-2 byte-level tokenizer with no merges, written by
   shakespeare_gpt's write_tokenizer; the table of imagegen_reference's byte_vocab()); image token k is id 256 + k; BOS = 256 + K, IMAGE_START = 257 + K. Each training
   image gets a prompt naming its class, drawn at random from a few templates and synonyms
   ("a sneaker", "a photo of an ankle boot", "an image of a pullover", ...).
3. Model: GPT-2 exactly (shakespeare_gpt.py's GPT2: HF GPT2LMHeadModel names, tied LM head). The loss
   is the cross-entropy of each image token over the image-token logits only: Tessera decodes with
   every other logit masked away, so this is exactly the distribution it samples from. Prompt
   positions carry no loss. AdamW, warm-up then cosine decay, fixed seed.
4. Evaluation (PyTorch): for each class's canonical prompt, 50 grids sampled at temperature 1 (seeds
   0..49) with the config's guidance scale, rendered through the codebook and classified by the shipped fashion-vit (fashion_vit.py's
   ViT, its preprocessor's mean/std). Also the ViT's accuracy on codebook-reconstructed test images:
   the ceiling the codebook allows.

Outputs: config.json (GPT-2 config + `imagegen` block), model.safetensors (Transformer, fp16 when the
greedy grid of every class prompt is unchanged, + `codebook`), vocab.json, merges.txt, train_log.tsv
and metrics.json.
"""

import argparse
import contextlib
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from common import REPO, LossLog, data_dir, device_description, nn_linear, read_safetensors, seed_everything, write_safetensors
from fashion_vit import CLASSES, ViT, load_split, normalise
from shakespeare_gpt import GPT2, write_tokenizer

import lm_models

# lm_models' writer knows the float dtypes; the codebook is bytes (as in imagegen_reference.py).
lm_models.SAFETENSORS_DTYPES[torch.uint8] = "U8"
lm_models._SAME_SIZE_INT[torch.uint8] = torch.uint8
lm_models._TORCH_DTYPES["U8"] = torch.uint8

TEXT_VOCAB = 256
IMAGE = 28

# Names for each class (index = Fashion-MNIST label); the first is the canonical prompt evaluated.
CLASS_NAMES = [
    ["a t-shirt", "a top", "a tee shirt"],
    ["a pair of trousers", "trousers", "pants"],
    ["a pullover", "a sweater", "a jumper"],
    ["a dress", "a summer dress"],
    ["a coat", "a jacket"],
    ["a sandal", "sandals"],
    ["a shirt", "a button-down shirt"],
    ["a sneaker", "a trainer", "sneakers"],
    ["a bag", "a handbag"],
    ["an ankle boot", "a boot", "ankle boots"],
]
TEMPLATES = ["{}", "a photo of {}", "an image of {}", "a picture of {}", "a drawing of {}"]
MAX_PROMPT = max(len(t.format(n)) for t in TEMPLATES for names in CLASS_NAMES for n in names)


# ----------------------------------------------------------------------------------------------
# codebook


def to_patches(images_u8, p):
    """[N, 28, 28] -> [N, (28/p)^2, p*p] float, raster order of the grid, row-major inside a patch."""
    n, g = len(images_u8), IMAGE // p
    x = images_u8.float().reshape(n, g, p, g, p).permute(0, 1, 3, 2, 4)
    return x.reshape(n, g * g, p * p)


def from_patches(patches, p):
    """Inverse of to_patches: [N, g*g, p*p] -> [N, 28, 28]."""
    n, g = len(patches), IMAGE // p
    return patches.reshape(n, g, g, p, p).permute(0, 1, 3, 2, 4).reshape(n, IMAGE, IMAGE)


def nearest(points, centroids, device="cpu", chunk=65536):
    """Index of the nearest centroid (squared distance) for each point, computed on `device`
    (on the CPU the products go through oneDNN, see common.py); the result is on the CPU."""
    c = centroids.to(device)
    c2 = (c * c).sum(-1)
    out = []
    for i in range(0, len(points), chunk):
        x = points[i : i + chunk].to(device)
        out.append((c2 - 2 * nn_linear(x, c)).argmin(-1).cpu())  # ||x||^2 is the same for every centroid
    return torch.cat(out)


def kmeans(points, k, iters, gen, device):
    """Lloyd's algorithm from k distinct random points; an emptied cluster is re-seeded at a random point."""
    centroids = points[torch.randperm(len(points), generator=gen)[:k]].clone()
    for it in range(iters):
        assign = nearest(points, centroids, device)
        sums = torch.zeros_like(centroids).index_add_(0, assign, points)
        counts = torch.bincount(assign, minlength=k)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp(min=1)[:, None].float())
        if empty.any():
            centroids[empty] = points[torch.randint(0, len(points), (int(empty.sum()),), generator=gen)]
    return centroids


# ----------------------------------------------------------------------------------------------
# sequences


def prompt_for(label, gen):
    names = CLASS_NAMES[label]
    name = names[torch.randint(0, len(names), (1,), generator=gen).item()]
    template = TEMPLATES[torch.randint(0, len(TEMPLATES), (1,), generator=gen).item()]
    return template.format(name)


def batch_sequences(codes, labels, spec, gen, uncond_prob=0.0):
    """codes [B, H*W] (0..K-1): ids [B, T] and targets [B, T] (image codes 0..K-1 where a position
    predicts an image token, -100 elsewhere), padded at the end to the batch's longest prompt.
    With probability uncond_prob an image gets the empty prompt ([BOS] [IMAGE_START]): that teaches
    the unconditional distribution classifier-free guidance needs."""
    drop = (torch.rand(len(labels), generator=gen) < uncond_prob).tolist() if uncond_prob > 0 else [False] * len(labels)
    prompts = [[] if d else list(prompt_for(int(y), gen).encode("ascii")) for y, d in zip(labels, drop)]
    n_img = codes.shape[1]
    T = 2 + max(len(p) for p in prompts) + n_img - 1  # the last image token is a target only
    ids = torch.full((len(codes), T), spec["bos_token_id"], dtype=torch.long)
    targets = torch.full((len(codes), T), -100, dtype=torch.long)
    for i, p in enumerate(prompts):
        head = [spec["bos_token_id"]] + p + [spec["image_start_token_id"]]
        seq = head + (codes[i, :-1] + spec["image_token_start"]).tolist()
        ids[i, : len(seq)] = torch.tensor(seq)
        targets[i, len(head) - 1 : len(head) - 1 + n_img] = codes[i]
    return ids, targets


def image_logits(model, ids, spec):
    start = spec["image_token_start"]
    # shakespeare_gpt's GPT2 makes its positions and causal mask with the default device: on CUDA,
    # make that the ids' device (torch >= 2.0). On the CPU nothing changes.
    scope = contextlib.nullcontext() if ids.device.type == "cpu" else torch.device(ids.device)
    with scope:
        return model(ids)[..., start : start + spec["image_token_count"]]


@torch.no_grad()
def sample_grids(model, spec, prompt, seeds, temperature, guidance=1.0):
    """One grid per seed (a torch.Generator each): [len(seeds), H*W] codes. temperature 0 = greedy.
    guidance != 1 is classifier-free guidance: the logits are u + guidance * (c - u), c after the
    prompt and u after the empty prompt, each sequence continued with the tokens drawn.
    Full recompute per token (no KV cache): simple, and the sequences are short."""
    model.eval()
    bos, start = spec["bos_token_id"], spec["image_start_token_id"]
    device = next(model.parameters()).device
    ids = torch.tensor([[bos] + list(prompt.encode("ascii")) + [start]] * len(seeds), device=device)
    uncond = torch.tensor([[bos, start]] * len(seeds), device=device)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    codes = []
    for _ in range(spec["grid_height"] * spec["grid_width"]):
        logits = image_logits(model, ids, spec)[:, -1].double()
        if guidance != 1.0:
            u = image_logits(model, uncond, spec)[:, -1].double()
            logits = u + guidance * (logits - u)
        if temperature == 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1).cpu()
            nxt = torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(gens)])
        codes.append(nxt.cpu())
        token = (nxt.to(device) + spec["image_token_start"])[:, None]
        ids, uncond = torch.cat([ids, token], dim=1), torch.cat([uncond, token], dim=1)
    return torch.stack(codes, dim=1)


def render(codes, codebook_grey, p):
    """codes [N, H*W] -> greyscale images [N, 28, 28] uint8."""
    return from_patches(codebook_grey[codes].reshape(len(codes), -1, p * p), p).to(torch.uint8)


# ----------------------------------------------------------------------------------------------
# the shipped classifier


def load_vit(folder, device):
    """models/fashion-vit as fashion_vit.py's ViT in float32, and its normalisation; None if not there yet."""
    if not os.path.exists(os.path.join(folder, "model.safetensors")):
        return None
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "preprocessor_config.json")) as f:
        pre = json.load(f)
    vit = ViT(config)
    vit.load_state_dict({k: v.float() for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()})
    vit.to(device).eval()
    return vit, pre["image_mean"][0], pre["image_std"][0]


@torch.no_grad()
def classify(vit, images_u8):
    model, mean, std = vit
    device = next(model.parameters()).device
    return torch.cat([model(normalise(images_u8[i : i + 500], mean, std).to(device)).argmax(-1).cpu() for i in range(0, len(images_u8), 500)])


def evaluate(out_dir, vit_dir, seeds_per_class, device, guidance=None, first_seed=0):
    """Class agreement of temperature-1 samples (PyTorch) with the model as stored, at the config's
    guidance scale (or `guidance`), seeds first_seed.. first_seed + seeds_per_class - 1. The
    config's own setting on seeds 0.. goes into metrics.json's class_agreement_pytorch; any other
    into class_agreement_pytorch_other, keyed by guidance and first seed."""
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    spec = config["imagegen"]
    default_guidance = spec.get("guidance_scale", 1.0)
    guidance = default_guidance if guidance is None else guidance
    weights = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    codebook = weights.pop("codebook")
    p = spec["patch_size"]
    grey = codebook[..., 0].reshape(len(codebook), p * p).float()
    model = GPT2(config)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.to(device)
    vit = load_vit(vit_dir, device)
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    if vit is None:
        print(f"{vit_dir} has no model yet: class agreement not measured", flush=True)
        return
    t0 = time.time()
    seeds = list(range(first_seed, first_seed + seeds_per_class))
    per_class, confusion = {}, torch.zeros(10, 10, dtype=torch.long)
    for label, names in enumerate(CLASS_NAMES):
        codes = sample_grids(model, spec, names[0], seeds, 1.0, guidance)
        predicted = classify(vit, render(codes, grey, p))
        for pr in predicted.tolist():
            confusion[label, pr] += 1
        per_class[CLASSES[label]] = (predicted == label).float().mean().item()
        print(f"{names[0]!r}: {per_class[CLASSES[label]]:.2f} classified as {CLASSES[label]}", flush=True)
    agreement = {
        "prompts": [names[0] for names in CLASS_NAMES],
        "temperature": 1.0,
        "guidance_scale": guidance,
        "seeds": [seeds[0], seeds[-1]],
        "seeds_per_class": seeds_per_class,
        "classifier": os.path.relpath(vit_dir, REPO),
        "per_class": per_class,
        "mean": sum(per_class.values()) / len(per_class),
        "confusion_matrix": confusion.tolist(),
        "eval_time_s": round(time.time() - t0, 1),
    }
    print(f"guidance {guidance}, seeds {seeds[0]}..{seeds[-1]}: mean agreement {agreement['mean']:.4f}", flush=True)
    if guidance != default_guidance or first_seed != 0:
        metrics.setdefault("class_agreement_pytorch_other", {})[f"guidance {guidance}, seeds {seeds[0]}-{seeds[-1]}"] = agreement
    else:
        metrics["class_agreement_pytorch"] = agreement
    if "vit_test_accuracy_on_codebook_reconstructions" not in metrics:  # kept by a continued run: same codebook, same judge
        test_x, test_y = load_split(os.path.join(data_dir(), "fashion-mnist"), "t10k")
        recon = render(nearest(to_patches(test_x, p).reshape(-1, p * p), grey, device).reshape(len(test_x), -1), grey, p)
        metrics |= {
            "vit_test_accuracy_on_codebook_reconstructions": (classify(vit, recon) == test_y).float().mean().item(),
            "vit_test_accuracy_on_originals": (classify(vit, test_x) == test_y).float().mean().item(),
        }
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO, "models", "fashion-imagegen"))
    p.add_argument("--vit", default=os.path.join(REPO, "models", "fashion-vit"), help="the classifier that scores the samples")
    p.add_argument("--patch", type=int, default=4)
    p.add_argument("--codes", type=int, default=512, help="K, the codebook size")
    p.add_argument("--kmeans-sample", type=int, default=500000)
    p.add_argument("--kmeans-iters", type=int, default=30)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=192)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seeds-per-class", type=int, default=50)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where there is one (same script, faster)")
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps, write nothing")
    p.add_argument("--uncond-prob", type=float, default=0.0, help="share of training images given the empty prompt (for guidance)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale: stored in config.json as the model's default (with --uncond-prob > 0), "
                        "or with --eval-only the scale to measure instead of the config's")
    p.add_argument("--init", default=None, help="continue from this saved model (its codebook, architecture and weights) instead of starting afresh")
    p.add_argument("--eval-first-seed", type=int, default=0, help="with --eval-only: the first sampling seed")
    p.add_argument("--eval-only", action="store_true", help="only (re)measure the class agreement of the saved model")
    args = p.parse_args()

    seed_everything(args.seed, args.threads, args.device)
    if args.eval_only:
        evaluate(args.out, args.vit, args.seeds_per_class, args.device, args.guidance, args.eval_first_seed)
        return
    gen = torch.Generator().manual_seed(args.seed)
    folder = os.path.join(data_dir(), "fashion-mnist")
    train_x, train_y = load_split(folder, "train")
    test_x, _ = load_split(folder, "t10k")
    init = load_init(args.init) if args.init else None
    if init:
        P, K = init["config"]["imagegen"]["patch_size"], init["config"]["imagegen"]["image_token_count"]
        args.patch, args.codes = P, K
        args.layers, args.dim, args.heads = (init["config"][k] for k in ("n_layer", "n_embd", "n_head"))
    P, K, g = args.patch, args.codes, IMAGE // args.patch

    # 1. codebook (k-means, or the initial model's), and every training image as a grid of codes
    t0 = time.time()
    patches = to_patches(train_x, P).reshape(-1, P * P)
    if init:
        grey = init["codebook"][..., 0].reshape(K, P * P).float()
    else:
        sample = patches[torch.randperm(len(patches), generator=gen)[: args.kmeans_sample]]
        grey = kmeans(sample, K, args.kmeans_iters, gen, args.device).round().clamp(0, 255)
    codes = nearest(patches, grey, args.device).reshape(len(train_x), g * g)
    test_recon = render(nearest(to_patches(test_x, P).reshape(-1, P * P), grey, args.device).reshape(len(test_x), -1), grey, P)
    recon_rmse = (test_recon.float() - test_x.float()).pow(2).mean().sqrt().item()
    codebook = grey.to(torch.uint8).reshape(K, P, P, 1).expand(K, P, P, 3).contiguous()
    print(f"codebook K={K} {P}x{P}: test reconstruction RMSE {recon_rmse:.2f} grey levels, "
          f"{len(torch.unique(codes))} codes used, {time.time() - t0:.0f}s", flush=True)

    spec = {
        "image_token_start": TEXT_VOCAB,
        "image_token_count": K,
        "grid_height": g,
        "grid_width": g,
        "patch_size": P,
        "bos_token_id": TEXT_VOCAB + K,
        "image_start_token_id": TEXT_VOCAB + K + 1,
    }
    if args.uncond_prob > 0 and args.guidance is not None:
        spec["guidance_scale"] = args.guidance
    context = 2 + MAX_PROMPT + g * g
    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": TEXT_VOCAB + K + 2,
        "n_positions": 8 * math.ceil(context / 8),  # a little room for longer prompts
        "n_embd": args.dim,
        "n_layer": args.layers,
        "n_head": args.heads,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": True,
        "bos_token_id": spec["bos_token_id"],
        "eos_token_id": spec["bos_token_id"],
        "imagegen": spec,
    }

    # 2. the Transformer
    model = GPT2(config)
    if init:
        model.load_state_dict(init["weights"])
    model.to(args.device)
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
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    steps = args.time_steps or args.steps
    if not args.time_steps:
        os.makedirs(args.out, exist_ok=True)
        log = LossLog(os.path.join(args.out, log_name(args)), ["step", "images_seen", "lr", "train_loss", "elapsed_s"])
    print(f"params {n_params}, vocab {config['vocab_size']}, context {config['n_positions']}", flush=True)
    t1 = time.time()
    order = torch.randperm(len(train_x), generator=gen)
    cursor, running, running_n = 0, 0.0, 0
    model.train()
    for step in range(steps):
        if cursor + args.batch > len(order):
            order, cursor = torch.randperm(len(train_x), generator=gen), 0
        idx = order[cursor : cursor + args.batch]
        cursor += args.batch
        ids, targets = (t.to(args.device) for t in batch_sequences(codes[idx], train_y[idx], spec, gen, args.uncond_prob))
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        logits = image_logits(model, ids, spec)
        loss = F.cross_entropy(logits.reshape(-1, K), targets.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        running_n += 1
        if args.time_steps:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t1:.1f}s", flush=True)
            continue
        if (step + 1) % args.log_every == 0 or step == steps - 1:
            elapsed = time.time() - t1
            log.write(step + 1, (step + 1) * args.batch, lr_at(step), running / running_n, round(elapsed, 1))
            print(f"step {step + 1}: loss {running / running_n:.4f} nats/token, {elapsed:.0f}s", flush=True)
            running, running_n = 0.0, 0
    if args.time_steps:
        print(f"{(time.time() - t1) / steps:.3f} s/step")
        return
    log.close()
    train_time = time.time() - t1

    # 3. fp16 storage if the greedy grid of every canonical prompt is unchanged
    prompts = [names[0] for names in CLASS_NAMES]
    f32_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    guidance = spec.get("guidance_scale", 1.0)
    greedy32 = [sample_grids(model, spec, pr, [0], 0, guidance)[0].tolist() for pr in prompts]
    model.load_state_dict({k: v.half().float() for k, v in f32_state.items()})
    greedy16 = [sample_grids(model, spec, pr, [0], 0, guidance)[0].tolist() for pr in prompts]
    use_f16 = greedy16 == greedy32
    model.load_state_dict(f32_state)
    dtype = torch.float16 if use_f16 else torch.float32
    stored = {k: v.to(dtype).contiguous() for k, v in f32_state.items()} | {"codebook": codebook}
    write_safetensors(os.path.join(args.out, "model.safetensors"), stored, {"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_tokenizer(args.out)

    metrics = {
        "parameters": n_params,
        "storage_dtype": "float16" if use_f16 else "float32",
        "fp16_greedy_identical": use_f16,
        "greedy_grids": {pr: [c + spec["image_token_start"] for c in grid] for pr, grid in zip(prompts, greedy32)},
        "codebook": init["metrics"]["codebook"] if init else {
            "patch_size": P, "codes": K, "kmeans_sample": args.kmeans_sample, "kmeans_iters": args.kmeans_iters,
            "test_reconstruction_rmse": recon_rmse},
        "final_train_loss": running_last(os.path.join(args.out, log_name(args))),
        "train_time_s": round(train_time, 1),
        "hyperparameters": vars(args) | {"out": os.path.relpath(args.out, REPO), "vit": os.path.relpath(args.vit, REPO)},
        "torch": torch.__version__,
        "trained_on": device_description(args.device, args.threads),
    }
    same_judge = init and init["metrics"].get("class_agreement_pytorch", {}).get("classifier") == os.path.relpath(args.vit, REPO)
    for key in ("vit_test_accuracy_on_codebook_reconstructions", "vit_test_accuracy_on_originals") if same_judge else ():
        metrics[key] = init["metrics"][key]
    if init:
        # the run this one continued, as its own metrics.json recorded it
        metrics["init"] = {k: init["metrics"][k] for k in ("parameters", "final_train_loss", "train_time_s", "hyperparameters", "torch", "trained_on")
                           if k in init["metrics"]} | {"from": os.path.relpath(args.init, REPO)}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    evaluate(args.out, args.vit, args.seeds_per_class, args.device)


def log_name(args):
    """A continued run logs beside the first run's curve, not over it."""
    return "finetune_log.tsv" if args.init else "train_log.tsv"


def running_last(log_path):
    with open(log_path) as f:
        return float(f.read().strip().split("\n")[-1].split("\t")[3])


def load_init(folder):
    """A saved model to continue: its config, float32 weights, codebook and metrics (read before --out is written)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    codebook = weights.pop("codebook")
    return {"config": config, "metrics": metrics, "codebook": codebook, "weights": {k: v.float() for k, v in weights.items()}}


if __name__ == "__main__":
    main()
