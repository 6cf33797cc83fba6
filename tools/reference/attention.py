"""Attention fixtures from PyTorch: softmax(q·kᵀ·scale + mask)·v in float64, written out per head
the way a Transformer block does it (heads side by side in each row, GQA by repeating kv heads).

Masks: key j is visible to query i iff j < kvLength, keyMask[b, j] = 1 and, when causal,
j <= i + kvLength - Tq (queries are the last Tq positions). Rows that see no key are 0.

Run: /usr/bin/python3 tools/reference/attention.py  → test/fixtures/attention.json
"""
import math

import torch

from fixture_io import f32, flat, write

g = torch.Generator().manual_seed(2024)


def attention(q, k, v, num_heads, num_kv_heads, causal, scale, key_mask=None, kv_length=None):
    b, tq, _ = q.shape
    tk = k.shape[1]
    d = q.shape[2] // num_heads
    valid = tk if kv_length is None else kv_length
    qh = q.reshape(b, tq, num_heads, d).transpose(1, 2)                 # [B, H, Tq, D]
    kh = k.reshape(b, tk, num_kv_heads, d).transpose(1, 2)              # [B, KVH, Tk, D]
    vh = v.reshape(b, tk, num_kv_heads, d).transpose(1, 2)
    group = num_heads // num_kv_heads
    kh = kh.repeat_interleave(group, dim=1)                             # query head h → kv head h // group
    vh = vh.repeat_interleave(group, dim=1)
    scores = qh @ kh.transpose(-1, -2) * scale                          # [B, H, Tq, Tk]
    visible = torch.ones(b, 1, tq, tk, dtype=torch.bool)
    visible &= (torch.arange(tk) < valid)[None, None, None, :]
    if key_mask is not None:
        visible &= key_mask.bool()[:, None, None, :]
    if causal:
        visible &= torch.arange(tk)[None, :] <= torch.arange(tq)[:, None] + (valid - tq)
    probs = torch.softmax(scores.masked_fill(~visible, float('-inf')), dim=-1)
    probs = torch.nan_to_num(probs, nan=0.0)                            # fully masked rows: 0, not NaN
    out = (probs @ vh).transpose(1, 2).reshape(b, tq, num_heads * d)
    return out, probs


cases = []


def add(name, b, tq, tk, h, kvh, d, causal=False, scale=None, key_mask=None, kv_length=None, probs=False):
    q = f32(b, tq, h * d, generator=g)
    k = f32(b, tk, kvh * d, generator=g)
    v = f32(b, tk, kvh * d, generator=g)
    s = 1 / math.sqrt(d) if scale is None else scale
    mask = None if key_mask is None else torch.tensor(key_mask, dtype=torch.int64)
    out, p = attention(q, k, v, h, kvh, causal, s, mask, kv_length)
    case = {'name': name, 'batch': b, 'tq': tq, 'tk': tk, 'numHeads': h, 'numKVHeads': kvh, 'headDim': d,
            'causal': causal, 'q': flat(q), 'k': flat(k), 'v': flat(v), 'out': flat(out)}
    if scale is not None:
        case['scale'] = scale
    if key_mask is not None:
        case['keyMask'] = [int(x) for x in mask.reshape(-1).tolist()]
    if kv_length is not None:
        case['kvLength'] = kv_length
    if probs:
        case['probs'] = flat(p)
    cases.append(case)


add('causal', 1, 7, 7, 2, 2, 16, causal=True, probs=True)
add('padding', 2, 6, 6, 2, 2, 8, key_mask=[[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]], probs=True)
add('padding-causal-scale', 2, 5, 5, 3, 3, 7, causal=True, scale=0.5, key_mask=[[0, 1, 1, 1, 1], [1, 1, 0, 1, 1]])
add('cross', 1, 3, 11, 3, 3, 5, probs=True)
add('gqa-causal', 1, 9, 9, 4, 2, 12, causal=True, probs=True)
add('decode', 1, 1, 16, 4, 1, 32, causal=True, kv_length=10, probs=True)
add('decode-padding', 2, 1, 13, 2, 2, 20, kv_length=9, key_mask=[[1] * 13, [0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
add('cache-prefill', 1, 3, 12, 2, 1, 24, causal=True, kv_length=8, probs=True)

write('attention.json', {'generator': 'tools/reference/attention.py', 'torch': torch.__version__, 'cases': cases})
