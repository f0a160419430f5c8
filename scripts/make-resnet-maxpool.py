"""A small ResNet-style fixture with ResNet's 3x3/2 (padding 1) stem max-pool (run with Debian's
python3-torch, python3-onnx).

Produces test/fixtures/extra/resnet-maxpool.{onnx,x.npy,grad.npy}: stem conv + BatchNorm + ReLU,
overlapping max-pool k3 s2 p1, a basic residual block, a strided block with a 1x1 projection
shortcut, global average pool, linear 10. BatchNorm statistics are random (eval mode) so that the
loader's folding is exercised. grad.npy holds the float64 autograd input gradient of each of the
10 outputs (one-hot seeds) at x, from the float32 weights. Not part of the product or CI; the
outputs are committed.
"""
import os
import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'extra')
torch.manual_seed(11)


def bn(c):
    b = nn.BatchNorm2d(c)
    b.running_mean.uniform_(-0.2, 0.2)
    b.running_var.uniform_(0.5, 1.5)
    b.weight.data.uniform_(0.5, 1.5)
    b.bias.data.uniform_(-0.2, 0.2)
    return b


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.b1 = bn(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.b2 = bn(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), bn(cout))

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        return torch.relu(h + (x if self.short is None else self.short(x)))


class ResNetMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = bn(8)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        h = self.pool(torch.relu(self.bn(self.stem(x))))
        h = self.layer2(self.layer1(h))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1))


m = ResNetMaxPool().eval()
x = torch.randn(1, 3, 32, 32)
torch.onnx.export(m, x, os.path.join(OUT, 'resnet-maxpool.onnx'), opset_version=17, input_names=['input'],
                  output_names=['logits'], dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
md = ResNetMaxPool().double().eval()
md.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
xd = x.double().requires_grad_(True)
y = md(xd)
grad = torch.stack([torch.autograd.grad(y[0, k], xd, retain_graph=True)[0][0] for k in range(10)])
np.save(os.path.join(OUT, 'resnet-maxpool.x.npy'), x.numpy().astype(np.float32))
np.save(os.path.join(OUT, 'resnet-maxpool.grad.npy'), grad.numpy())
