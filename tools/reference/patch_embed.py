"""Patch-embedding fixtures from torch.nn.Conv2d(C, D, kernel_size=p, stride=p), flattened to [B, N, D].

Run: /usr/bin/python3 tools/reference/patch_embed.py  → test/fixtures/patch_embed.json
"""
import torch

from fixture_io import f32, flat, write

torch.manual_seed(2024)
g = torch.Generator().manual_seed(2024)
cases = []
for b, c, h, w, d, p in [(1, 3, 8, 12, 5, 4), (2, 3, 14, 7, 17, 7), (1, 3, 16, 32, 8, 16)]:
    conv = torch.nn.Conv2d(c, d, kernel_size=p, stride=p).double()
    with torch.no_grad():
        # The layer's own float64 init, rounded to float32 since that is what the kernel reads.
        conv.weight.copy_(conv.weight.float().double())
        conv.bias.copy_(conv.bias.float().double())
        image = f32(b, c, h, w, generator=g)
        out = conv(image).flatten(2).transpose(1, 2)  # [B, D, H/p, W/p] → [B, N, D], patches in raster order
    cases.append({'name': f'patch_embed/{b}x{c}x{h}x{w}/p{p}->{d}', 'imageShape': [b, c, h, w], 'dim': d, 'patchSize': p,
                  'image': flat(image), 'weight': flat(conv.weight.detach()), 'bias': flat(conv.bias.detach()), 'out': flat(out)})
write('patch_embed.json', {'generator': 'tools/reference/patch_embed.py', 'torch': torch.__version__, 'cases': cases})
