"""Is the VGG16 gradient discrepancy of issue 16 a conditioning effect or a bug?
(run with Debian's python3-torch + python3-torchvision: /usr/bin/python3; ≈ 2-5 min on 2 cores)

torchvision VGG16 with its own random initialisation (kaiming conv, N(0, 0.01) linear, zero
biases), one random 224×224 input. Measures, in PyTorch only (no xspectra code involved):

 1. per ReLU / max-pool layer: activation scale, how many ReLU pre-activations change sign between
    the float32 and the float64 forward pass, how many lie within float32 rounding of zero, and how
    many max-pool windows pick a different winner in float32 than in float64;
 2. for a few classes, PyTorch's float32 input gradient against float64 autograd, and against
    float64 autograd *with the max-pool winners of the float32 forward pass* (everything else in
    float64). The network is piecewise linear, so its gradient only depends on which ReLUs are on
    and which input wins each pool window: if the float32 gradient equals the float64 gradient of
    the float32 winners to float32 accuracy, the whole difference comes from a few windows whose
    two largest inputs lie within float32 rounding of each other (a near-tie), i.e. conditioning:
    any float32 implementation (ONNX Runtime's kernels round differently from PyTorch's) may pick
    either winner, and the gradient of the class jumps accordingly.

With a directory as third argument it also compares xspectra itself: the first run writes the
ONNX export and the input there and stops; `npx tsx bench/vgg16-ort-winners.ts DIR/vgg16.onnx
DIR/x.npy DIR 0,1,2,3,4,5` writes xspectra's float32 gradient and the max-pool winners of its
ONNX Runtime forward pass; a second run of this script then also prints xspectra's gradient
against float64 and against float64 with ONNX Runtime's winners.

Prints a table; the numbers are quoted in ARCHITECTURE.md ("VGG16 and float32").
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision.models as tvm

torch.manual_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
CLASSES = [int(c) for c in (sys.argv[2].split(',') if len(sys.argv) > 2 else '0,1,2,3,4,5'.split(','))]
torch.set_num_threads(2)

m32 = tvm.vgg16(weights=None).eval()
m64 = tvm.vgg16(weights=None).double().eval()
m64.load_state_dict({k: v.double() for k, v in m32.state_dict().items()})
x = torch.randn(1, 3, 224, 224)
DIR = sys.argv[3] if len(sys.argv) > 3 else None
if DIR and not os.path.exists(os.path.join(DIR, 'ort-grad.npy')):
    import numpy as np
    os.makedirs(DIR, exist_ok=True)
    torch.onnx.export(m32, x, os.path.join(DIR, 'vgg16.onnx'), opset_version=17, input_names=['input'],
                      output_names=['logits'])
    np.save(os.path.join(DIR, 'x.npy'), x.numpy())
    print(f'wrote {DIR}/vgg16.onnx and x.npy; now run bench/vgg16-ort-winners.ts, then this script again')
    sys.exit(0)


def trace(model, inp):
    """pre-activations of every ReLU and inputs of every max-pool, in order"""
    rec = []
    h = inp
    for mod in list(model.features) + [model.avgpool, torch.nn.Flatten()] + list(model.classifier):
        # clones: torchvision's ReLUs work in place
        if isinstance(mod, torch.nn.ReLU):
            rec.append(('relu', h.clone()))
        if isinstance(mod, torch.nn.MaxPool2d):
            rec.append(('pool', h.clone()))
        h = mod(h)
    return rec, h


with torch.no_grad():
    r32, y32 = trace(m32, x)
    r64, y64 = trace(m64, x.double())

print('layer   max|a|      rms(a)      sign flips f32/f64  |z|<1e-6·rms  winner changes (gap/max)')
relu_i = pool_i = 0
winners32 = []
for (kind, a32), (_, a64) in zip(r32, r64):
    rms = a64.pow(2).mean().sqrt().item()
    if kind == 'relu':
        relu_i += 1
        flips = ((a32 > 0) != (a64 > 0)).sum().item()
        near = (a64.abs() < 1e-6 * rms).sum().item()
        print(f'relu{relu_i:<3}  {a64.abs().max().item():.3e}  {rms:.3e}  {flips:>10}          {near:>8}')
    else:
        pool_i += 1
        _, i32 = F.max_pool2d(a32, 2, 2, return_indices=True)
        top64, i64 = F.max_pool2d(a64, 2, 2, return_indices=True)
        winners32.append(i32)
        # a tie among zeros (all ReLUs off) carries no gradient: count windows with a positive max
        changed = (i32 != i64) & (top64 > 0)
        flat = a64.flatten(2)
        gaps = [((top64[0, c, i, j] - flat[0, c, i32[0, c, i, j]]) / top64[0, c, i, j]).item()
                for c, i, j in changed[0].nonzero().tolist()]
        print(f'pool{pool_i:<3}  {a64.abs().max().item():.3e}  {rms:.3e}  {"":>10}          {"":>8}  '
              f'{changed.sum().item():>3} {" ".join(f"{g:.1e}" for g in gaps)}')
print(f'logits: max|y| {y64.abs().max().item():.3e}, float32 vs float64 max-rel '
      f'{((y32.double() - y64).abs().max() / y64.abs().max()).item():.2e}')


def forward64_with(winners, inp, masks=None):
    """the float64 network, its max-pools taking the given winners (indices into each window's
    input) and, if given, its ReLUs the given 0/1 masks (the slope; values of flipped units are
    within rounding of 0)"""
    h = inp
    k = r = 0
    for mod in list(m64.features) + [m64.avgpool, torch.nn.Flatten()] + list(m64.classifier):
        if isinstance(mod, torch.nn.MaxPool2d):
            n, c = h.shape[:2]
            idx = winners[k]
            h = h.flatten(2).gather(2, idx.flatten(2)).view(n, c, *idx.shape[2:])
            k += 1
        elif isinstance(mod, torch.nn.ReLU) and masks is not None:
            h = h * masks[r]
            r += 1
        else:
            h = mod(h)
    return h


def grads(fn, inp, classes):
    xi = inp.clone().requires_grad_(True)
    y = fn(xi)
    return [torch.autograd.grad(y[0, k], xi, retain_graph=True)[0][0] for k in classes]


def maxrel(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


g64 = grads(m64, x.double(), CLASSES)
g32 = grads(m32, x, CLASSES)
g64w = grads(lambda v: forward64_with(winners32, v), x.double(), CLASSES)
print('class  max|g|      float32 vs float64   float32 vs float64 with the float32 pool winners')
for k, a, b, c in zip(CLASSES, g64, g32, g64w):
    print(f'{k:>5}  {a.abs().max().item():.3e}  {maxrel(b, a):>18.2e}   {maxrel(b, c):>18.2e}')

if DIR:
    import numpy as np
    ort = torch.from_numpy(np.load(os.path.join(DIR, 'ort-grad.npy')))
    # ORT's Indices are flat per sample (c·H·W + h·W + w); torch's gather wants h·W + w per plane
    winners_ort = []
    for k, w32 in enumerate(winners32):
        flat = torch.from_numpy(np.load(os.path.join(DIR, f'ort-pool{k}.npy'))).long()
        hw = r64[[i for i, (kind, _) in enumerate(r64) if kind == 'pool'][k]][1].shape[2:].numel()
        winners_ort.append((flat % hw).view_as(w32))
    changed = [((wo != w32) & (F.max_pool2d(a, 2, 2) > 0)).sum().item()
               for wo, w32, a in zip(winners_ort, [F.max_pool2d(a, 2, 2, return_indices=True)[1]
                                                   for kind, a in r64 if kind == 'pool'],
                                     [a for kind, a in r64 if kind == 'pool'])]
    print('ONNX Runtime winners that differ from float64 (windows with a positive max), per pool:', changed)
    masks_ort = [torch.from_numpy(np.load(os.path.join(DIR, f'ort-relu{k}.npy'))).double()
                 for k in range(sum(1 for kind, _ in r64 if kind == 'relu'))]
    flips = [((mo > 0) != (a > 0)).sum().item() for mo, a in zip(masks_ort, [a for kind, a in r64 if kind == 'relu'])]
    print('ONNX Runtime ReLU masks that differ from float64, per ReLU:', flips)
    g64o = grads(lambda v: forward64_with(winners_ort, v, masks_ort), x.double(), CLASSES)
    print('class  xspectra (ORT float32) vs float64   vs float64 with ORT\'s pool winners and ReLU masks')
    for i, (k, a, c) in enumerate(zip(CLASSES, g64, g64o)):
        print(f'{k:>5}  {maxrel(ort[i], a):>32.2e}   {maxrel(ort[i], c):>34.2e}')
