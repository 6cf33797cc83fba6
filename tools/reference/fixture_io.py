"""Helpers shared by the fixture generators: float32 inputs, float64 references, compact JSON."""
import json
import os

import torch

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures')


def f32(*shape, generator, std=1.0, mean=0.0):
    """Seeded normal float32 values, returned as float64 so references are computed exactly on them."""
    return (torch.randn(*shape, generator=generator, dtype=torch.float32) * std + mean).to(torch.float32).double()


def flat(t):
    """A tensor as a flat list of numbers with 9 significant digits (enough to round-trip float32)."""
    return [float('%.9g' % v) for v in t.reshape(-1).tolist()]


def write(name, data):
    path = os.path.join(FIXTURES, name)
    with open(path, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
    print(f'wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)')
