"""Is the VGG16 gradient discrepancy of issue 16 a conditioning effect or a bug?
(run with Debian's python3-torch + python3-torchvision: /usr/bin/python3; ≈ 2-5 min on 2 cores)

torchvision VGG16 with its own random initialisation (kaiming conv, N(0, 0.01) linear, zero
biases), one random 224×224 input. Measures, in PyTorch only (no xspectra code involved):

 1. per ReLU / max-pool layer: activation scale, how many ReLU pre-activations change sign between
    the float32 and the float64 forward pass, how many lie within float32 rounding of zero, and how
    many max-pool windows pick a different winner in float32 than in float64;
 2. for a few classes, the float64 input gradient at x against the float64 input gradient at
    x·(1 + η), η = ±2⁻²⁴ per pixel (half a float32 ulp: the input is the same float32 image up to
    rounding), and against PyTorch's float32 gradient at x. If gradients computed *exactly* at two
    inputs that float32 cannot tell apart differ by several per cent, the class gradient is
    ill-conditioned at x, and any float32 implementation (ONNX Runtime's kernels round
    differently from PyTorch's) may land on either side.

Prints a table; the numbers are quoted in ARCHITECTURE.md ("VGG16 and float32").
"""
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


def trace(model, inp):
    """pre-activations of every ReLU and inputs of every max-pool, in order"""
    rec = []
    h = inp
    for mod in list(model.features) + [model.avgpool, torch.nn.Flatten()] + list(model.classifier):
        if isinstance(mod, torch.nn.ReLU):
            rec.append(('relu', h))
        if isinstance(mod, torch.nn.MaxPool2d):
            rec.append(('pool', h))
        h = mod(h)
    return rec, h


with torch.no_grad():
    r32, y32 = trace(m32, x)
    r64, y64 = trace(m64, x.double())

print('layer  kind  max|a|      rms(a)      sign flips f32/f64  |z|<1e-6·rms  winner changes')
relu_i = pool_i = 0
for (kind, a32), (_, a64) in zip(r32, r64):
    rms = a64.pow(2).mean().sqrt().item()
    if kind == 'relu':
        relu_i += 1
        flips = ((a32 > 0) != (a64 > 0)).sum().item()
        near = (a64.abs() < 1e-6 * rms).sum().item()
        print(f'relu{relu_i:<3}       {a64.abs().max().item():.3e}  {rms:.3e}  {flips:>10}          {near:>8}')
    else:
        pool_i += 1
        _, i32 = F.max_pool2d(a32, 2, 2, return_indices=True)
        _, i64 = F.max_pool2d(a64, 2, 2, return_indices=True)
        # a tie among zeros (all ReLUs off) carries no gradient: count windows with a positive max
        _, val = F.max_pool2d(a64, 2, 2, return_indices=True)[0], None
        pos = F.max_pool2d(a64, 2, 2) > 0
        changed = ((i32 != i64) & pos).sum().item()
        print(f'pool{pool_i:<3}       {a64.abs().max().item():.3e}  {rms:.3e}  {"":>10}          {"":>8}  {changed:>8}')
print(f'logits: max|y| {y64.abs().max().item():.3e}, float32 vs float64 max-rel '
      f'{((y32.double() - y64).abs().max() / y64.abs().max()).item():.2e}')


def grads(model, inp, classes):
    xi = inp.clone().requires_grad_(True)
    y = model(xi)
    return [torch.autograd.grad(y[0, k], xi, retain_graph=True)[0][0] for k in classes]


def maxrel(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


g64 = grads(m64, x.double(), CLASSES)
eta = (torch.randint(0, 2, x.shape).double() * 2 - 1) * 2.0 ** -24
g64p = grads(m64, x.double() * (1 + eta), CLASSES)
g32 = grads(m32, x, CLASSES)
print('class  max|g|      float64 at x(1+η) vs x   PyTorch float32 vs float64')
for k, a, b, c in zip(CLASSES, g64, g64p, g32):
    print(f'{k:>5}  {a.abs().max().item():.3e}  {maxrel(b, a):>22.2e}   {maxrel(c, a):>24.2e}')
