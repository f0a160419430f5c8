"""Extra reference fixtures for awkward graph shapes (run with Debian's python3-torch, python3-onnx).

Produces test/fixtures/extra/awkward.{onnx,x.npy,seeds.npy,vjp.npy,tangents.npy,jvp.npy,logits.npy}:
stride-2 conv on 30x29 (ConvTranspose output_padding), overlapping max-pool (k3 s2 p1), dilated conv,
residual Add, Concat, average pool with count_include_pad=False, grouped conv, ceil-mode max-pool.
References are float64 autograd (VJP for each seed, JVP for each tangent) of the float32 weights.
Not part of the product or CI; the outputs are committed.
"""
import os
import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'extra')
torch.manual_seed(7)


class Awkward(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.p1 = nn.MaxPool2d(3, stride=2, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, dilation=2, padding=2)
        self.c3 = nn.Conv2d(6, 6, 3, padding=1)
        self.side = nn.Conv2d(6, 6, 1)
        self.p2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.c4 = nn.Conv2d(12, 4, 2, groups=2)
        self.p3 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = self.p1(h)
        h = torch.relu(self.c2(h))
        h = torch.relu(h + torch.relu(self.c3(h)))
        h = torch.cat([h, self.side(h)], dim=1)
        h = self.p2(h)
        h = torch.relu(self.c4(h))
        h = self.p3(h)
        return self.fc(torch.flatten(h, 1))


m = Awkward().eval()
x = torch.randn(1, 3, 30, 29)
torch.onnx.export(m, x, os.path.join(OUT, 'awkward.onnx'), opset_version=17, input_names=['input'],
                  output_names=['logits'], dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
md = Awkward().double().eval()
md.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
xd = x.double().requires_grad_(True)
y = md(xd)
seeds = torch.randn(3, 5, dtype=torch.float64)
vjp = torch.stack([torch.autograd.grad(y, xd, s[None], retain_graph=True)[0][0] for s in seeds])
tangents = torch.randn(2, 3, 30, 29, dtype=torch.float64)
jvp = torch.stack([torch.autograd.functional.jvp(md, x.double(), t[None])[1][0] for t in tangents])
np.save(os.path.join(OUT, 'awkward.x.npy'), x.numpy().astype(np.float32))
np.save(os.path.join(OUT, 'awkward.seeds.npy'), seeds.numpy().astype(np.float32))
np.save(os.path.join(OUT, 'awkward.vjp.npy'), vjp.numpy())
np.save(os.path.join(OUT, 'awkward.tangents.npy'), tangents.numpy().astype(np.float32))
np.save(os.path.join(OUT, 'awkward.jvp.npy'), jvp.numpy())
np.save(os.path.join(OUT, 'awkward.logits.npy'), y.detach().numpy())
print('shapes', vjp.shape, jvp.shape, y.shape)


# --- opset coverage: the same small net exported at opsets 11, 13 and 17 ----------------------
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.d = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        h = torch.relu(self.bn(self.c(x)))
        h = nn.functional.max_pool2d(h, 2)
        h = self.d(h)
        return torch.softmax(self.fc(h.view(h.size(0), -1)), 1)


torch.manual_seed(3)
small = Small().eval()
small.bn.running_mean.uniform_(-0.5, 0.5)
small.bn.running_var.uniform_(0.5, 2)
xs = torch.randn(2, 3, 16, 16)
for opset in (11, 13, 17):
    torch.onnx.export(small, xs[:1], os.path.join(OUT, f'small-opset{opset}.onnx'), opset_version=opset,
                      input_names=['input'], output_names=['probs'], dynamic_axes={'input': {0: 'N'}})
with torch.no_grad():
    h = torch.relu(small.bn(small.c(xs)))
    logits = small.fc(nn.functional.max_pool2d(h, 2).reshape(2, -1))
np.save(os.path.join(OUT, 'small.x.npy'), xs.numpy())
np.save(os.path.join(OUT, 'small.logits.npy'), logits.numpy())
