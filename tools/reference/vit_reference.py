"""Golden references for Tessera's ViT: tiny random ViTForImageClassification checkpoints in Hugging Face
layout, test images, and float64 logits.

    /usr/bin/python3 tools/reference/vit_reference.py      # a few seconds

There is no `transformers` package on this machine, so the model is written out here by hand, following
Hugging Face's modeling_vit.py (ViTEmbeddings, ViTSelfAttention, ViTLayer with layernorm_before/after,
ViTModel's final layernorm, ViTForImageClassification's classifier on the [CLS] row; eval mode, no
dropout), and the preprocessing follows ViTImageProcessor with PIL (Debian's python3-pil):

    PIL convert('RGB') (3-channel models) or convert('L') (1-channel models)  -- Tessera's rule for
        greyscale, palette and RGBA inputs: PIL drops alpha without compositing;
    PIL Image.resize((width, height), resample, reducing_gap=None) on the 8-bit image, as
        transformers.image_transforms.resize does: separable, horizontal pass then vertical, each
        rounded to uint8, and for BILINEAR a triangle filter widened by the scale when downscaling
        (i.e. antialiased, unlike torch's F.interpolate(..., antialias=False));
    x * rescale_factor, then (x - mean) / std, in float32 like transformers' rescale/normalize;
    HWC -> CHW.

Writes, for each model in test/fixtures/models/<name>/: config.json, preprocessor_config.json,
model.safetensors and golden.json:

    { "tensors": { "shape": [B, C, H, W], "pixels": [...], "logits": [[num_labels] per image] },
      "interpolated": [ like "tensors", at other image sizes (position embeddings interpolated as HF's
                        interpolate_pos_encoding=True does) ],
      "images":  [ { "file": "<name>.png", "resized": [H*W*C uint8, HWC, after convert + resize],
                     "logits": [...], "index": argmax } ... ] }

and the test images to test/fixtures/vit-images/ (PNG: RGB, RGBA, L, P, sizes that need down- and
up-scaling and one that needs none; one JPEG, whose golden pixels are libjpeg's, not jpeg-js's).
Logits are float64, from the stored float32 weights, rounded to 9 significant digits.
"""

import json
import math
import os

import numpy as np
import torch
from PIL import Image

from lm_models import write_safetensors

F64 = torch.float64
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
IMAGES = os.path.join(ROOT, "test", "fixtures", "vit-images")


# ----------------------------------------------------------------------------------------------
# The model (HF ViTForImageClassification), float64.


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if kind in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    raise ValueError(kind)


class ViTForImageClassification:
    def __init__(self, config, weights):
        self.c = config
        self.w = {k: v.to(F64) for k, v in weights.items()}

    def _ln(self, x, prefix):
        D = x.shape[-1]
        return torch.nn.functional.layer_norm(x, (D,), self.w[prefix + ".weight"], self.w[prefix + ".bias"], self.c["layer_norm_eps"])

    def _linear(self, x, prefix):
        y = x @ self.w[prefix + ".weight"].T
        bias = self.w.get(prefix + ".bias")
        return y if bias is None else y + bias

    def _positions(self, height, width):
        """HF's interpolate_pos_encoding (transformers >= 4.42): the patch positions resized bicubically
        (align_corners=False) to the new grid; the [CLS] position is kept. Identity at the trained size."""
        pos = self.w["vit.embeddings.position_embeddings"]
        p, size = self.c["patch_size"], self.c["image_size"]
        if (height, width) == (size, size):
            return pos
        D, grid = pos.shape[-1], size // p
        patch = pos[:, 1:].reshape(1, grid, grid, D).permute(0, 3, 1, 2)
        patch = torch.nn.functional.interpolate(patch, size=(height // p, width // p), mode="bicubic", align_corners=False)
        return torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, D)], dim=1)

    def __call__(self, pixels):
        """pixels: float64 [B, C, H, W] (normalised) -> logits [B, num_labels]."""
        c, w = self.c, self.w
        B = pixels.shape[0]
        D, H = c["hidden_size"], c["num_attention_heads"]
        hd = D // H
        e = "vit.embeddings."
        x = torch.nn.functional.conv2d(pixels, w[e + "patch_embeddings.projection.weight"], w[e + "patch_embeddings.projection.bias"], stride=c["patch_size"])
        x = x.flatten(2).transpose(1, 2)  # [B, N, D], patches in raster order
        x = torch.cat([w[e + "cls_token"].expand(B, -1, -1), x], dim=1) + self._positions(pixels.shape[2], pixels.shape[3])
        T = x.shape[1]
        for i in range(c["num_hidden_layers"]):
            p = f"vit.encoder.layer.{i}."
            h = self._ln(x, p + "layernorm_before")
            q, k, v = (self._linear(h, p + "attention.attention." + n).view(B, T, H, hd).transpose(1, 2) for n in ("query", "key", "value"))
            probs = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
            context = (probs @ v).transpose(1, 2).reshape(B, T, D)
            x = self._linear(context, p + "attention.output.dense") + x
            h = gelu(self._linear(self._ln(x, p + "layernorm_after"), p + "intermediate.dense"), c["hidden_act"])
            x = self._linear(h, p + "output.dense") + x
        x = self._ln(x, "vit.layernorm")
        return self._linear(x[:, 0], "classifier")


def random_weights(c, seed):
    """HF names and shapes; larger than HF's init (std 0.02) so that every input pixel moves the logits."""
    g = torch.Generator().manual_seed(seed)
    D, F, C, p = c["hidden_size"], c["intermediate_size"], c["num_channels"], c["patch_size"]
    n = (c["image_size"] // p) ** 2
    rand = lambda *shape, std=0.2: (torch.randn(*shape, generator=g) * std).to(torch.float32)
    norm = lambda prefix: {prefix + ".weight": (1 + rand(D, std=0.1)), prefix + ".bias": rand(D, std=0.1)}
    w = {
        "vit.embeddings.cls_token": rand(1, 1, D, std=0.5),
        "vit.embeddings.position_embeddings": rand(1, n + 1, D, std=0.5),
        "vit.embeddings.patch_embeddings.projection.weight": rand(D, C, p, p, std=1 / math.sqrt(C * p * p)),
        "vit.embeddings.patch_embeddings.projection.bias": rand(D, std=0.1),
    }
    for i in range(c["num_hidden_layers"]):
        p_ = f"vit.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w[p_ + f"attention.attention.{name}.weight"] = rand(D, D, std=1 / math.sqrt(D))
            if c["qkv_bias"]:
                w[p_ + f"attention.attention.{name}.bias"] = rand(D, std=0.1)
        w[p_ + "attention.output.dense.weight"] = rand(D, D, std=1 / math.sqrt(D))
        w[p_ + "attention.output.dense.bias"] = rand(D, std=0.1)
        w[p_ + "intermediate.dense.weight"] = rand(F, D, std=1 / math.sqrt(D))
        w[p_ + "intermediate.dense.bias"] = rand(F, std=0.1)
        w[p_ + "output.dense.weight"] = rand(D, F, std=1 / math.sqrt(F))
        w[p_ + "output.dense.bias"] = rand(D, std=0.1)
        w.update(norm(p_ + "layernorm_before"))
        w.update(norm(p_ + "layernorm_after"))
    w.update(norm("vit.layernorm"))
    L = len(c["id2label"])
    w["classifier.weight"] = rand(L, D, std=1.0)
    w["classifier.bias"] = rand(L, std=0.1)
    return w


# ----------------------------------------------------------------------------------------------
# Preprocessing (HF ViTImageProcessor with PIL).


def convert(image, channels):
    return image.convert("RGB" if channels == 3 else "L")


def resize(image, pre):
    size = pre["size"]
    return image.resize((size["width"], size["height"]), resample=pre["resample"], reducing_gap=None)


def normalise(resized, pre):
    """uint8 PIL image -> float32 [C, H, W] exactly as transformers' rescale + normalize compute it."""
    x = np.array(resized)
    if x.ndim == 2:
        x = x[:, :, None]
    x = (x.astype(np.float64) * pre["rescale_factor"]).astype(np.float32)
    mean = np.array(pre["image_mean"], dtype=np.float32)
    std = np.array(pre["image_std"], dtype=np.float32)
    x = (x - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


# ----------------------------------------------------------------------------------------------
# Test images.


def smooth_noise(g, h, w, channels, cells=4):
    """A smooth random image (upsampled coarse noise) with some fine noise: every pixel matters."""
    coarse = torch.rand(1, channels, cells, cells, generator=g, dtype=F64)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)[0]
    fine = torch.rand(channels, h, w, generator=g, dtype=F64)
    x = (0.75 * smooth + 0.25 * fine).clamp(0, 1) * 255
    return x.round().to(torch.uint8).permute(1, 2, 0).numpy()


def make_images():
    os.makedirs(IMAGES, exist_ok=True)
    g = torch.Generator().manual_seed(5)
    images = {
        "rgb-37x29.png": Image.fromarray(smooth_noise(g, 29, 37, 3), "RGB"),
        "rgba-50x61.png": Image.fromarray(smooth_noise(g, 61, 50, 4), "RGBA"),
        "grey-13x17.png": Image.fromarray(smooth_noise(g, 17, 13, 1)[:, :, 0], "L"),
        "rgb-24x24.png": Image.fromarray(smooth_noise(g, 24, 24, 3), "RGB"),
        "rgb-300x7.png": Image.fromarray(smooth_noise(g, 7, 300, 3), "RGB"),
        "rgb-40x40.jpg": Image.fromarray(smooth_noise(g, 40, 40, 3, cells=3), "RGB"),
    }
    images["palette-31x23.png"] = Image.fromarray(smooth_noise(g, 23, 31, 3), "RGB").quantize(colors=37)
    for name, image in images.items():
        path = os.path.join(IMAGES, name)
        if name.endswith(".jpg"):
            image.save(path, quality=92)
        else:
            image.save(path, optimize=False)
    return sorted(images)


# ----------------------------------------------------------------------------------------------
# Fixtures.

BASE = {
    "architectures": ["ViTForImageClassification"],
    "model_type": "vit",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
    "encoder_stride": 16,
    "torch_dtype": "float32",
}

MODELS_TO_MAKE = {
    # 3 channels, 24x24 in patches of 6 (16 patches + [CLS]), 4 heads of 10, erf GELU, qkv biases.
    "vit-tiny": (
        dict(BASE, hidden_size=40, num_hidden_layers=2, num_attention_heads=4, intermediate_size=72, hidden_act="gelu",
             layer_norm_eps=1e-12, image_size=24, patch_size=6, num_channels=3, qkv_bias=True,
             id2label={str(i): n for i, n in enumerate(["tabby cat", "goldfish", "volcano", "teapot", "tractor"])}),
        dict(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], size={"height": 24, "width": 24}),
        11,
    ),
    # 1 channel (Fashion-MNIST-like), 28x28 in patches of 7, no q/k/v biases, ImageNet-style mean/std, eps 1e-6.
    "vit-tiny-grey": (
        dict(BASE, hidden_size=36, num_hidden_layers=3, num_attention_heads=3, intermediate_size=53, hidden_act="gelu",
             layer_norm_eps=1e-6, image_size=28, patch_size=7, num_channels=1, qkv_bias=False,
             id2label={str(i): n for i, n in enumerate(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"])}),
        dict(image_mean=[0.2860], image_std=[0.3530], size={"height": 28, "width": 28}),
        12,
    ),
}


def flat(t, digits=9):
    return [float(f"%.{digits}g" % v) for v in t.reshape(-1).tolist()]


def main():
    names = make_images()
    for model_name, (config, pre_overrides, seed) in MODELS_TO_MAKE.items():
        config = dict(config, label2id={v: int(k) for k, v in config["id2label"].items()})
        pre = {
            "do_resize": True,
            "do_rescale": True,
            "do_normalize": True,
            "image_processor_type": "ViTImageProcessor",
            "resample": 2,
            "rescale_factor": 1 / 255,
        }
        pre.update(pre_overrides)
        folder = os.path.join(MODELS, model_name)
        os.makedirs(folder, exist_ok=True)
        weights = random_weights(config, seed)
        write_safetensors(os.path.join(folder, "model.safetensors"), weights, {"format": "pt"})
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(pre, f, indent=2)
        model = ViTForImageClassification(config, weights)

        C, S = config["num_channels"], config["image_size"]
        g = torch.Generator().manual_seed(seed + 100)
        pixels = torch.randn(3, C, S, S, generator=g, dtype=torch.float32)
        golden = {"tensors": {"shape": list(pixels.shape), "pixels": flat(pixels), "logits": [flat(r) for r in model(pixels.to(F64))]}, "images": []}
        # Other input sizes, with interpolated position embeddings (a larger, non-square grid and a smaller one).
        p = config["patch_size"]
        golden["interpolated"] = []
        for gh, gw in ((S // p + 1, S // p + 2), (S // p - 1, S // p - 1)):
            other = torch.randn(1, C, gh * p, gw * p, generator=g, dtype=torch.float32)
            golden["interpolated"].append({"shape": list(other.shape), "pixels": flat(other), "logits": [flat(r) for r in model(other.to(F64))]})
        for name in names:
            with Image.open(os.path.join(IMAGES, name)) as image:
                resized = resize(convert(image, C), pre)
            logits = model(normalise(resized, pre).to(F64)[None])[0]
            golden["images"].append({
                "file": name,
                "resized": np.array(resized).reshape(-1).tolist(),
                "logits": flat(logits),
                "index": int(logits.argmax()),
            })
        with open(os.path.join(folder, "golden.json"), "w") as f:
            json.dump(golden, f, separators=(",", ":"))
        labels = [config["id2label"][str(i["index"])] for i in golden["images"]]
        print(f"wrote {os.path.normpath(folder)}: labels of the images {labels}")


if __name__ == "__main__":
    main()
