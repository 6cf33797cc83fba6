"""Rotary embedding fixtures from PyTorch, written the way Meta's Llama code does it:
adjacent pairs (x[2i], x[2i+1]) are complex numbers multiplied by exp(i·p·θ^(−2i/D)).

Run: /usr/bin/python3 tools/reference/rope.py  → test/fixtures/rope.json
"""
import torch

from fixture_io import f32, flat, write

g = torch.Generator().manual_seed(4321)


def precompute_freqs_cis(dim, end, theta):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim))
    t = torch.arange(end, dtype=torch.float64)
    return torch.polar(torch.ones(end, dim // 2, dtype=torch.float64), torch.outer(t, freqs))


def apply_rotary_emb(x, freqs_cis):
    # x [B, T, H, D] → complex [B, T, H, D/2]; freqs_cis [T, D/2] broadcast over B and H.
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs_cis[None, :, None, :]).flatten(3)


cases = []
for b, t, h, d, theta, offset in [(1, 5, 2, 8, 10000.0, 0), (2, 3, 3, 34, 10000.0, 11), (1, 4, 4, 64, 500000.0, 100)]:
    x = f32(b, t, h, d, generator=g)
    freqs = precompute_freqs_cis(d, offset + t, theta)[offset:offset + t]
    out = apply_rotary_emb(x, freqs)
    cases.append({'name': f'rope/{b}x{t}x{h}x{d}/offset{offset}', 'shape': [b, t, h * d], 'numHeads': h, 'headDim': d,
                  'theta': theta, 'offset': offset, 'x': flat(x), 'out': flat(out)})
write('rope.json', {'generator': 'tools/reference/rope.py', 'torch': torch.__version__, 'cases': cases})
