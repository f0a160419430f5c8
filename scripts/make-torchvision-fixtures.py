"""Small torchvision classifiers exported by torch.onnx.export, with float64 autograd references
(run with Debian's python3-torch, python3-torchvision, python3-onnx: /usr/bin/python3).

For each architecture of issue 16 the real torchvision model class is built at reduced width
(its own constructor arguments: width_mult / alpha / stage widths / block_config; GoogLeNet through
its `blocks` argument with a conv block at 1/8 of the channels), 20 classes, random weights, and
BatchNorm statistics randomised: calibrated on random inputs (so activations stay O(1) through the
depth, as in a trained net) and then perturbed. It is exported at opsets 11 and 17 for a 64×64
input. Written to test/fixtures/torchvision/:

  <arch>-opset11.onnx, <arch>-opset17.onnx   the exports (same weights)
  <arch>.x.npy                               float32 [1, 3, 64, 64] input
  <arch>.grad.npy                            [20, 3, 64, 64]: the input gradient of every logit,
                                             computed by float64 autograd from the float32
                                             weights, stored as float32 (rounding 6e-8 relative)
  densenet-external.onnx + .onnx.data        opset 17 export saved with external data
  densenet-fp16.onnx                         float16 weights and I/O; the densenet weights are
                                             float16-representable, so densenet.grad.npy serves
  ops-zoo-opset{11,17}.onnx, ops-zoo.*.npy  a small non-torchvision module with the remaining ops
  ops.json                                   the ONNX op types of every export, and PyTorch's own
                                             float32 gradient error (a check that x is not near a kink)

Not part of the product or CI; the outputs are committed (each file < 1 MB).
"""
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm
from onnx import numpy_helper
import functools
import importlib

efficientnet = importlib.import_module('torchvision.models.efficientnet')
googlenet = importlib.import_module('torchvision.models.googlenet')

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torchvision')
os.makedirs(OUT, exist_ok=True)
SIZE = 64
CLASSES = 20


class SmallConv(googlenet.BasicConv2d):
    """GoogLeNet's BasicConv2d at 1/8 of its channels (the RGB input stays 3)."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(in_channels if in_channels == 3 else in_channels // 8, out_channels // 8, **kwargs)


def small_googlenet():
    m = tvm.GoogLeNet(num_classes=CLASSES, aux_logits=False, transform_input=True, init_weights=True,
                      blocks=[SmallConv, functools.partial(googlenet.Inception, conv_block=SmallConv),
                              googlenet.InceptionAux])
    m.fc = nn.Linear(1024 // 8, CLASSES)
    nn.init.trunc_normal_(m.fc.weight, mean=0.0, std=0.01, a=-2, b=2)
    return m


def small_efficientnet():
    setting, last = efficientnet._efficientnet_conf('efficientnet_b0', width_mult=0.1, depth_mult=0.34)
    return tvm.EfficientNet(setting, dropout=0.2, num_classes=CLASSES, last_channel=last)


# the larger files once: their opset 11 export has the same op types and forms as the opset 17 one
OPSETS = {'mobilenetv2': (17,), 'efficientnet': (17,), 'mnasnet': (17,), 'googlenet': (17,)}

ARCHS = {
    'densenet': lambda: tvm.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2,
                                     num_classes=CLASSES),
    # one block per stage (the constructor's inverted_residual_setting: t, c, n, s) keeps it small
    'mobilenetv2': lambda: tvm.MobileNetV2(num_classes=CLASSES, width_mult=0.1, inverted_residual_setting=[
        [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2], [6, 64, 1, 2], [6, 96, 1, 1], [6, 160, 1, 2], [6, 320, 1, 1]]),
    'mobilenetv3': lambda: tvm.mobilenet_v3_small(num_classes=CLASSES, width_mult=0.25),
    'efficientnet': small_efficientnet,
    'mnasnet': lambda: tvm.MNASNet(0.1, num_classes=CLASSES),
    'shufflenet': lambda: tvm.ShuffleNetV2([2, 2, 2], [24, 16, 32, 64, 128], num_classes=CLASSES),
    'googlenet': small_googlenet,
}


class OpsZoo(nn.Module):
    """Not a torchvision model: the element-wise and routing ops that the seven architectures do not
    use (reflect / edge / non-zero constant pads, Split, Tanh, LeakyRelu, Elu, Selu, GELU, a general Clip,
    products without a gate, quotients and differences of activations, ReduceSum, Squeeze,
    Transpose, Softmax inside the network), each with an autograd reference."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6 * 19, 5)

    def forward(self, x):
        h = self.c1(F.pad(x, (1, 2, 0, 1), mode='reflect'))
        a, b = torch.split(h, [4, 4], dim=1)
        h = torch.tanh(a) * F.leaky_relu(b, 0.1) + F.elu(a) - F.selu(b)
        h = h / (1.5 + torch.sigmoid(b))
        h = F.pad(F.pad(h, (1, 1, 1, 1), mode='replicate'), (0, 1, 2, 0), value=0.3)
        h = torch.clamp(self.c2(h), -0.5, 2.0)
        h = F.hardsigmoid(h) * F.gelu(h)
        h = h * torch.sigmoid(h.sum(dim=(2, 3), keepdim=True) / 50)
        h = h * torch.softmax(h, dim=1)
        v = h.mean(dim=3).unsqueeze(1).squeeze(1).transpose(1, 2)
        return self.fc(v.flatten(1))


def randomise_bn(m, gen):
    """Random BN affine parameters; statistics calibrated on random inputs, then perturbed."""
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    with torch.no_grad():
        for b in bns:
            c = b.num_features
            b.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
            b.bias.copy_(torch.empty(c).uniform_(-0.2, 0.2, generator=gen))
            b.reset_running_stats()
            b.momentum = None  # cumulative average over the calibration batches
    # only BN in training mode: dropout and stochastic depth stay off while calibrating
    m.eval()
    for b in bns:
        b.train()
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(8, 3, SIZE, SIZE, generator=gen))
    m.eval()
    with torch.no_grad():
        for b in bns:
            c = b.num_features
            b.running_var.mul_(torch.empty(c).uniform_(0.8, 1.25, generator=gen))
            b.running_mean.add_(0.1 * torch.randn(c, generator=gen) * b.running_var.sqrt())


def export(m, x, path, opset, **kw):
    torch.onnx.export(m, x, path, opset_version=opset, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, **kw)


def all_class_grads(m, x):
    """float64 autograd: the input gradient of each logit, [classes, 3, H, W]."""
    md = m.double().eval()
    xd = x.double().requires_grad_(True)
    y = md(xd)
    rows = [torch.autograd.grad(y[0, k], xd, retain_graph=True)[0][0] for k in range(y.shape[1])]
    return torch.stack(rows).numpy()


def float32_error(m, x, ref):
    """PyTorch's own float32 gradient against the float64 reference (max-relative per class): a
    fixture near a kink (a ReLU or pool within float32 rounding of switching) shows here first"""
    xf = x.clone().requires_grad_(True)
    y = m.float().eval()(xf)
    g = torch.stack([torch.autograd.grad(y[0, k], xf, retain_graph=True)[0][0] for k in range(y.shape[1])]).numpy()
    return float(max(np.abs(g[k] - ref[k]).max() / np.abs(ref[k]).max() for k in range(len(ref))))


def op_types(path):
    return sorted({n.op_type for n in onnx.load(path, load_external_data=False).graph.node})


def to_float16(src, dst):
    """float16 weights and I/O: every float initializer, Constant and Cast target becomes float16."""
    model = onnx.load(src)
    g = model.graph
    for t in g.initializer:
        if t.data_type == onnx.TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for n in g.node:
        for a in n.attribute:
            if n.op_type == 'Constant' and a.name == 'value' and a.t.data_type == onnx.TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
            if n.op_type == 'Cast' and a.name == 'to' and a.i == onnx.TensorProto.FLOAT:
                a.i = onnx.TensorProto.FLOAT16
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            v.type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
    del g.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def main():
    ops = {}
    for i, (name, make) in enumerate(ARCHS.items()):
        torch.manual_seed(100 + i)
        gen = torch.Generator().manual_seed(200 + i)
        m = make()
        randomise_bn(m, gen)
        x = torch.randn(1, 3, SIZE, SIZE, generator=gen)
        kw = {}
        if name == 'densenet':
            # float16-representable weights and BN statistics, so that the float16 file below
            # computes the same function; BN kept as nodes (TrainingMode.PRESERVE on an eval model:
            # the exporter's Conv-BN fusion would re-round fused weights) and folded by our loader
            with torch.no_grad():
                for t in m.state_dict().values():
                    if t.is_floating_point():
                        t.copy_(t.half().float())
            kw = {'training': torch.onnx.TrainingMode.PRESERVE}
        for opset in OPSETS.get(name, (11, 17)):
            path = os.path.join(OUT, f'{name}-opset{opset}.onnx')
            export(m, x, path, opset, **kw)
            ops[f'{name}-opset{opset}'] = op_types(path)
        if name == 'densenet':
            # external data: the weights in a file next to the model, `location` relative to it
            model = onnx.load(os.path.join(OUT, f'{name}-opset17.onnx'))
            onnx.save_model(model, os.path.join(OUT, 'densenet-external.onnx'), save_as_external_data=True,
                            all_tensors_to_one_file=True, location='densenet-external.onnx.data',
                            size_threshold=0)
            to_float16(os.path.join(OUT, f'{name}-opset17.onnx'), os.path.join(OUT, 'densenet-fp16.onnx'))
            ops['densenet-fp16'] = op_types(os.path.join(OUT, 'densenet-fp16.onnx'))
        np.save(os.path.join(OUT, f'{name}.x.npy'), x.numpy().astype(np.float32))
        ref = all_class_grads(m, x)
        np.save(os.path.join(OUT, f'{name}.grad.npy'), ref.astype(np.float32))
        ops[f'{name}: PyTorch float32 vs float64'] = float32_error(m, x, ref)
        assert ops[f'{name}: PyTorch float32 vs float64'] < 1e-4, f'{name}: the input sits near a kink; re-seed'

        print(name, sum(p.numel() for p in m.parameters()), 'params', ops[f'{name}-opset17'], flush=True)
    torch.manual_seed(300)
    zoo = OpsZoo().eval()
    x = torch.randn(1, 3, 16, 16)
    for opset in (11, 17):
        path = os.path.join(OUT, f'ops-zoo-opset{opset}.onnx')
        export(zoo, x, path, opset)
        ops[f'ops-zoo-opset{opset}'] = op_types(path)
    np.save(os.path.join(OUT, 'ops-zoo.x.npy'), x.numpy().astype(np.float32))
    ref = all_class_grads(zoo, x)
    np.save(os.path.join(OUT, 'ops-zoo.grad.npy'), ref.astype(np.float32))
    ops['ops-zoo: PyTorch float32 vs float64'] = float32_error(zoo, x, ref)
    print('ops-zoo', ops['ops-zoo-opset11'], flush=True)
    with open(os.path.join(OUT, 'ops.json'), 'w') as f:
        json.dump(ops, f, indent=1)


if __name__ == '__main__':
    main()
