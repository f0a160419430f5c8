/**
 * The paper's MNIST CNN (appendix D, DESIGN §1.8) built directly as IR with a seeded
 * He-normal initialisation (PyTorch's default initialisation did not learn with plain SGD at
 * lr 0.1 on this data, as measured when the fixtures were built).
 */

import { Rng } from '../methods/random.js';
import type { ConvOp, Layer, Model, Op, Param, Shape } from '../model/ir.js';
import { inferShape } from '../model/shapes.js';

export const PAPER_MNIST_ARCHITECTURE =
  'conv3x3(1→8,p1)+ReLU, conv3x3(8→8,p1)+ReLU, conv5x5(8→8)+ReLU, maxpool2, conv5x5(8→16)+ReLU, ' +
  'conv3x3(16→16,p1)+ReLU, conv3x3(16→16,p1)+ReLU, maxpool2, flatten(256), dense 256→10';

type Spec = { conv: [number, number, number] } | { pool: number } | { flatten: true } | { dense: number };

const PAPER: Spec[] = [
  { conv: [8, 3, 1] },
  { conv: [8, 3, 1] },
  { conv: [8, 5, 0] },
  { pool: 2 },
  { conv: [16, 5, 0] },
  { conv: [16, 3, 1] },
  { conv: [16, 3, 1] },
  { pool: 2 },
  { flatten: true },
  { dense: 10 },
];

export function paperMnistCnn(seed: number): Model {
  const rng = new Rng(seed);
  const params = new Map<string, Param>();
  const shapes = new Map<string, Shape>([['x', [1, 28, 28]]]);
  const layers: Layer[] = [];
  let cur = 'x';
  let n = 0;
  const add = (name: string, op: Op, reshape?: Shape) => {
    const layer: Layer = { name, op, inputs: [cur], output: `${name}_out` };
    shapes.set(layer.output, inferShape({ params }, layer, [shapes.get(cur)!], reshape));
    layers.push(layer);
    cur = layer.output;
  };
  const normal = (count: number, std: number) =>
    Float32Array.from({ length: count }, () => Math.fround(rng.normal() * std));
  for (const s of PAPER) {
    const inShape = shapes.get(cur)!;
    if ('conv' in s) {
      const [cout, k, p] = s.conv;
      const cin = inShape[0];
      const fanIn = cin * k * k;
      params.set(`conv${n}.weight`, {
        dims: [cout, cin, k, k],
        data: normal(cout * fanIn, Math.sqrt(2 / fanIn)),
      });
      params.set(`conv${n}.bias`, { dims: [cout], data: new Float32Array(cout) });
      const op: ConvOp = {
        type: 'conv',
        weight: `conv${n}.weight`,
        bias: `conv${n}.bias`,
        kernel: [k, k],
        strides: [1, 1],
        pads: [p, p, p, p],
        dilations: [1, 1],
        group: 1,
      };
      add(`conv${n}`, op);
      add(`relu${n}`, { type: 'relu' });
      n++;
    } else if ('pool' in s) {
      const k = s.pool;
      add(`pool${n}`, {
        type: 'maxpool',
        kernel: [k, k],
        strides: [k, k],
        pads: [0, 0, 0, 0],
        dilations: [1, 1],
        ceil: false,
        countIncludePad: false,
      });
    } else if ('flatten' in s) {
      add('flatten', { type: 'reshape' }, [inShape.reduce((a, b) => a * b, 1)]);
    } else {
      const nin = inShape[0];
      params.set('dense.weight', { dims: [s.dense, nin], data: normal(s.dense * nin, Math.sqrt(1 / nin)) });
      params.set('dense.bias', { dims: [s.dense], data: new Float32Array(s.dense) });
      add('dense', { type: 'linear', weight: 'dense.weight', bias: 'dense.bias' });
    }
  }
  return {
    inputName: 'x',
    inputShape: [1, 28, 28],
    outputName: cur,
    layers,
    params,
    shapes,
    notes: [],
    hash: '',
  };
}
