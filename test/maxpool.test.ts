/**
 * Max-pool without the Indices output (the window form the WebGPU provider runs) against the
 * Indices form on ONNX Runtime's CPU provider: winner takes all, first index wins ties, overlapping
 * windows, padding, ceil mode, dilation and floor mode with uncovered trailing rows — and the
 * ResNet-style fixture (3×3/2 stem pool) against PyTorch autograd on both providers.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/methods/random.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { loadModelFile } from '../src/model/load-file.js';
import type { MaxPoolForm } from '../src/propagate/maxpool.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { FIXTURES, npy, testEngine } from './helpers/fixtures.js';
import { PROVIDERS } from './helpers/providers.js';
import { graphModel, randomArray } from './helpers/tiny-models.js';

interface PoolCase {
  name: string;
  attrs: Record<string, number | number[]>;
  h: number;
  w: number;
  out: [number, number];
}

const CASES: PoolCase[] = [
  {
    name: '3×3/2 pad 1 (ResNet stem)',
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    h: 9,
    w: 8,
    out: [5, 4],
  },
  {
    name: '2×2/2 ceil mode',
    attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
    h: 7,
    w: 5,
    out: [4, 3],
  },
  {
    name: '2×2/2 floor, odd size',
    attrs: { kernel_shape: [2, 2], strides: [2, 2] },
    h: 7,
    w: 7,
    out: [3, 3],
  },
  {
    name: '3×3/1 dilation 2',
    attrs: { kernel_shape: [3, 3], strides: [1, 1], dilations: [2, 2], pads: [2, 1, 2, 1] },
    h: 6,
    w: 7,
    out: [6, 5],
  },
  {
    name: '3×2/(2,1) pad (0,1,1,0)',
    attrs: { kernel_shape: [3, 2], strides: [2, 1], pads: [0, 1, 1, 0] },
    h: 8,
    w: 6,
    out: [4, 6],
  },
];

const C = 3;

function poolModel(c: PoolCase) {
  return graphModel(
    (g, x) => g.op('Flatten', [g.op('MaxPool', [x], c.attrs)]),
    [C, c.h, c.w],
    ['N', C * c.out[0] * c.out[1]],
  ).model();
}

/** values from a small set of integers (many ties), negative too (so padding must never win) */
function tiedInput(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.int(4) - 3);
}

describe.each(CASES)('max-pool $name', (c) => {
  it('window form equals the Indices form: backward and forward mode, tied inputs', async () => {
    const r = new ModelRunner(poolModel(c), new NodeEngine());
    expect(r.model.shapes.get(r.model.outputName)).toEqual([C * c.out[0] * c.out[1]]);
    const rng = new Rng(5);
    const d = r.inputSize;
    const K = 4;
    for (let trial = 0; trial < 3; trial++) {
      const x = tiedInput(rng, d);
      const seeds = randomArray(rng, K * r.outputSize);
      const tangents = randomArray(rng, K * d);
      const res: Float32Array[][] = [];
      for (const form of ['indices', 'window'] as MaxPoolForm[]) {
        const pass = { mode: 'gradient' as const, maxPool: form };
        const { attributions } = await r.backward(form, pass, x, 1, seeds, K);
        res.push([attributions, await r.forwardMode(form, pass, x, tangents, K)]);
      }
      // overlapping windows add in another order: equal to float32 rounding, no winner differs
      for (let i = 0; i < res[0][0].length; i++)
        expect(Math.abs(res[1][0][i] - res[0][0][i]), `trial ${trial} backward ${i}`).toBeLessThan(1e-5);
      expect(res[1][1], `trial ${trial} forward mode`).toEqual(res[0][1]);
    }
  });
});

describe.each(PROVIDERS)('ResNet-style fixture with a 3×3/2 stem max-pool on %s', (provider) => {
  it('all 10 input gradients equal PyTorch autograd', async () => {
    const r = new ModelRunner(
      loadModelFile(join(FIXTURES, 'extra', 'resnet-maxpool.onnx')),
      testEngine(provider),
    );
    expect(r.model.layers.map((l) => l.op.type)).toContain('maxpool');
    const x = npy('extra/resnet-maxpool.x.npy').data as Float32Array;
    const ref = npy('extra/resnet-maxpool.grad.npy').data as Float64Array;
    const { seeds, K } = oneHotSeeds(10);
    const { attributions } = await r.backward('gradient', { mode: 'gradient' }, x, 1, seeds, K);
    let err = 0;
    let mx = 0;
    for (let i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(attributions[i] - ref[i]));
      mx = Math.max(mx, Math.abs(ref[i]));
    }
    expect(err / mx).toBeLessThan(1e-5);
  });
});
