/**
 * VGG16 (torchvision layout, 224×224, 1000 classes) as IR with random He-normal weights, for
 * benchmarks that must not depend on a downloaded export. Same ops and shapes as the real model.
 */

import { Rng } from '../src/methods/random.js';
import type { ConvOp, Layer, Model, Param, Shape } from '../src/model/ir.js';
import { inferShape } from '../src/model/shapes.js';

const CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'] as const;

export function randomVgg16(seed = 0): Model {
  const rng = new Rng(seed);
  const params = new Map<string, Param>();
  const shapes = new Map<string, Shape>([['x', [3, 224, 224]]]);
  const layers: Layer[] = [];
  let cur = 'x';
  const add = (name: string, op: Layer['op'], reshape?: Shape) => {
    const l: Layer = { name, op, inputs: [cur], output: `${name}_out` };
    shapes.set(l.output, inferShape({ params }, l, [shapes.get(cur)!], reshape));
    layers.push(l);
    cur = l.output;
  };
  const normal = (n: number, std: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    return a;
  };
  let i = 0;
  for (const c of CFG) {
    if (c === 'M') {
      add(`pool${i}`, {
        type: 'maxpool',
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0, 0, 0, 0],
        dilations: [1, 1],
        ceil: false,
        countIncludePad: false,
      });
      continue;
    }
    const cin = shapes.get(cur)![0];
    params.set(`c${i}.w`, { dims: [c, cin, 3, 3], data: normal(c * cin * 9, Math.sqrt(2 / (cin * 9))) });
    params.set(`c${i}.b`, { dims: [c], data: normal(c, 0.01) });
    const op: ConvOp = {
      type: 'conv',
      weight: `c${i}.w`,
      bias: `c${i}.b`,
      kernel: [3, 3],
      strides: [1, 1],
      pads: [1, 1, 1, 1],
      dilations: [1, 1],
      group: 1,
    };
    add(`conv${i}`, op);
    add(`relu${i}`, { type: 'relu' });
    i++;
  }
  add('flatten', { type: 'reshape' }, [512 * 7 * 7]);
  for (const [j, [nin, nout]] of [
    [25088, 4096],
    [4096, 4096],
    [4096, 1000],
  ].entries()) {
    params.set(`fc${j}.w`, { dims: [nout, nin], data: normal(nout * nin, Math.sqrt(2 / nin)) });
    params.set(`fc${j}.b`, { dims: [nout], data: normal(nout, 0.01) });
    add(`fc${j}`, { type: 'linear', weight: `fc${j}.w`, bias: `fc${j}.b` });
    if (j < 2) add(`fcrelu${j}`, { type: 'relu' });
  }
  return {
    inputName: 'x',
    inputShape: [3, 224, 224],
    outputName: cur,
    layers,
    params,
    shapes,
    notes: [],
    hash: 'random-vgg16',
  };
}
