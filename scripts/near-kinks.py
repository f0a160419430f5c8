"""Explain a float32 gradient that misses float64 autograd on a full-width torchvision export
(scripts/check-torchvision-full.py DIR): list every ReLU pre-activation within 1e-5·rms of zero
(float64 forward) and write, for each, the float64 all-class gradient with that one ReLU switched
to the other side (value mirrored, slope of the other side): DIR/<name>.flip<k>.npy. Then
`npx tsx bench/torchvision-full.ts DIR` also prints xspectra's gradient against each of them; a match
to float32 accuracy means the discrepancy is that one ReLU, i.e. conditioning, not a bug.

  /usr/bin/python3 scripts/near-kinks.py DIR shufflenet_v2_x1_0,googlenet
"""
import importlib
import os
import sys

import numpy as np
import torch

src = open(os.path.join(os.path.dirname(__file__), 'check-torchvision-full.py')).read()
DIR, NAMES = sys.argv[1], sys.argv[2].split(',')
sys.argv = sys.argv[:1] + [DIR, 'none']  # the builder part only: no exports
g = {'__file__': os.path.join(os.path.dirname(__file__), 'check-torchvision-full.py')}
exec(src, g)
fx, ARCHS = g['fx'], g['ARCHS']
names = list(ARCHS)
basic = importlib.import_module('torchvision.models.googlenet').BasicConv2d

for name in NAMES:
    i = names.index(name)
    torch.manual_seed(500 + i)
    gen = torch.Generator().manual_seed(600 + i)
    m = ARCHS[name]()
    fx.randomise_bn(m, gen)
    x = torch.randn(1, 3, 64, 64, generator=gen)
    md = ARCHS[name]()
    md.load_state_dict(m.state_dict())
    md = md.double().eval()
    # pre-activations: inputs of ReLU modules; GoogLeNet applies F.relu to BasicConv2d.bn's output
    sites = [s for s in md.modules() if isinstance(s, torch.nn.ReLU)] + [s.bn for s in md.modules() if isinstance(s, basic)]
    pre = {}
    hooks = [s.register_forward_pre_hook(lambda mod, a: pre.__setitem__(mod, a[0].detach().clone()))
             if isinstance(s, torch.nn.ReLU) else
             s.register_forward_hook(lambda mod, a, out: pre.__setitem__(mod, out.detach().clone()))
             for s in sites]
    with torch.no_grad():
        md(x.double())
    for h in hooks:
        h.remove()
    ref = np.load(os.path.join(DIR, f'{name}.grad.npy'))
    k = 0
    for s, z in pre.items():
        rms = z.pow(2).mean().sqrt().item()
        for ix in map(tuple, (z.abs() < 1e-5 * rms).nonzero().tolist()):
            # mirror the value, keep slope +1 through the mirror: the ReLU sits on its other side
            def mirror(t, ix=ix):
                t = t.clone()
                t[ix] = t[ix] - 2 * t[ix].detach()
                return t
            h = (s.register_forward_pre_hook(lambda mod, a: (mirror(a[0]),)) if isinstance(s, torch.nn.ReLU)
                 else s.register_forward_hook(lambda mod, a, out: mirror(out)))
            xi = x.double().requires_grad_(True)
            y = md(xi)
            gf = torch.stack([torch.autograd.grad(y[0, c], xi, retain_graph=True)[0][0] for c in range(y.shape[1])])
            h.remove()
            np.save(os.path.join(DIR, f'{name}.flip{k}.npy'), gf.numpy())
            moved = max(np.abs(gf[c].numpy() - ref[c]).max() / np.abs(ref[c]).max() for c in range(len(ref)))
            print(f'{name} flip{k}: pre-activation {ix} = {z[ix].item() / rms:.1e}·rms; '
                  f'switching it moves the float64 gradient by {moved:.2e}', flush=True)
            k += 1
