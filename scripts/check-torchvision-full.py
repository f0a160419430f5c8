"""Full-width torchvision classifiers (not committed: ~100 MB) for the check of issue 16 at full
size: 64×64 input, 20 classes, random weights, BN statistics randomised as in
make-torchvision-fixtures.py, exported at opsets 11 and 17, with float64 autograd all-class input
gradients. Then: npx tsx bench/torchvision-full.ts DIR

  /usr/bin/python3 scripts/check-torchvision-full.py DIR
"""
import importlib.util
import os
import sys

import numpy as np
import torch
import torchvision.models as tvm

spec = importlib.util.spec_from_file_location('fx', os.path.join(os.path.dirname(__file__), 'make-torchvision-fixtures.py'))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
ARCHS = {
    'densenet121': lambda: tvm.densenet121(num_classes=20),
    'mobilenet_v2': lambda: tvm.mobilenet_v2(num_classes=20),
    'mobilenet_v3_small': lambda: tvm.mobilenet_v3_small(num_classes=20),
    'mobilenet_v3_large': lambda: tvm.mobilenet_v3_large(num_classes=20),
    'efficientnet_b0': lambda: tvm.efficientnet_b0(num_classes=20),
    'mnasnet1_0': lambda: tvm.mnasnet1_0(num_classes=20),
    'shufflenet_v2_x1_0': lambda: tvm.shufflenet_v2_x1_0(num_classes=20),
    'googlenet': lambda: tvm.GoogLeNet(num_classes=20, aux_logits=False, transform_input=True, init_weights=True),
}
for i, (name, make) in enumerate(ARCHS.items()):
    # an optional second argument picks architectures ('none': only define them, for near-kinks.py)
    if len(sys.argv) > 2 and name not in sys.argv[2].split(','):
        continue
    torch.manual_seed(500 + i)
    gen = torch.Generator().manual_seed(600 + i)
    m = make()
    fx.randomise_bn(m, gen)
    x = torch.randn(1, 3, 64, 64, generator=gen)
    for opset in (11, 17):
        fx.export(m, x, os.path.join(OUT, f'{name}-opset{opset}.onnx'), opset)
    np.save(os.path.join(OUT, f'{name}.x.npy'), x.numpy())
    np.save(os.path.join(OUT, f'{name}.grad.npy'), fx.all_class_grads(m, x))
    print(name, flush=True)
