"""LayerNorm and RMSNorm fixtures from PyTorch (float64 math on float32 inputs).

Run: /usr/bin/python3 tools/reference/norms.py  → test/fixtures/norms.json
"""
import torch

from fixture_io import f32, flat, write

g = torch.Generator().manual_seed(1234)
cases = []


def layernorm(name, rows, d, eps, residual=False, mean=0.0, std=1.0):
    x = f32(rows, d, generator=g, std=std, mean=mean)
    r = f32(rows, d, generator=g) if residual else None
    w = f32(d, generator=g, std=0.5, mean=1.0)
    b = f32(d, generator=g, std=0.5)
    # h is formed in float32, as the kernel forms it.
    h = (x.float() + r.float()).double() if residual else x
    out = torch.nn.functional.layer_norm(h, (d,), w, b, eps)
    case = {'name': name, 'kind': 'layernorm', 'shape': [rows, d], 'eps': eps, 'x': flat(x), 'weight': flat(w), 'bias': flat(b), 'out': flat(out)}
    if residual:
        case['residual'] = flat(r)
        case['sum'] = flat(h)
    cases.append(case)


def rmsnorm(name, rows, d, eps, residual=False):
    x = f32(rows, d, generator=g)
    r = f32(rows, d, generator=g) if residual else None
    w = f32(d, generator=g, std=0.5, mean=1.0)
    h = (x.float() + r.float()).double() if residual else x
    # torch.nn.functional.rms_norm is newer than this PyTorch; this is its definition.
    out = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * w
    case = {'name': name, 'kind': 'rmsnorm', 'shape': [rows, d], 'eps': eps, 'x': flat(x), 'weight': flat(w), 'out': flat(out)}
    if residual:
        case['residual'] = flat(r)
        case['sum'] = flat(h)
    cases.append(case)


layernorm('layernorm/3x17', 3, 17, 1e-5)
layernorm('layernorm/residual/5x64', 5, 64, 1e-5, residual=True)
layernorm('layernorm/mean100-std1e-2/2x768', 2, 768, 1e-5, mean=100.0, std=1e-2)
rmsnorm('rmsnorm/3x17', 3, 17, 1e-6)
rmsnorm('rmsnorm/residual/4x128', 4, 128, 1e-5, residual=True)
write('norms.json', {'generator': 'tools/reference/norms.py', 'torch': torch.__version__, 'cases': cases})
