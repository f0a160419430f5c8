/** Small ONNX models built in the tests (with the project's own GraphBuilder). */

import type { Rng } from '../../src/methods/random.js';
import { parseModel } from '../../src/model/load.js';
import { GraphBuilder } from '../../src/propagate/builder.js';

export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => Math.fround(rng.normal() * scale));
}

/** y = W x + b as a one-node Gemm model; W is [out, in] */
export function linearModel(W: Float32Array, b: Float32Array, nin: number, nout: number) {
  const g = new GraphBuilder();
  const x = g.input({ name: 'x', dims: ['N', nin] });
  const w = g.initializer('W', [nout, nin], W);
  const bb = g.initializer('b', [nout], b);
  g.op('Gemm', [x, w, bb], { transB: 1 }, 'y');
  g.output('y', { dims: ['N', nout] });
  return parseModel(g.build(), { source: 'linear' });
}

/** Build a model from a custom op sequence on a [C,H,W] input */
export function graphModel(
  build: (g: GraphBuilder, x: string) => string,
  inShape: number[],
  outDims: (number | string)[],
) {
  const g = new GraphBuilder();
  const x = g.input({ name: 'x', dims: ['N', ...inShape] });
  const y = build(g, x);
  g.output(y, { as: 'out', dims: outDims });
  return { bytes: g.build(), model: () => parseModel(g.build(), { source: 'custom' }) };
}

/**
 * A two-layer classifier y = W2 relu(W1 x + b1) + b2 on an input of shape `inShape` (flattened
 * first when it has several axes), with b2 chosen so that at `x` the outputs are exactly `targets`
 * (e.g. spread like a real classifier's logits, some near 0, or negative). Returns the ONNX bytes.
 */
export function twoLayerClassifierBytes(
  rng: Rng,
  x: Float32Array,
  hidden: number,
  targets: number[],
  inShape: number[] = [x.length],
): Uint8Array {
  const nin = x.length;
  const nout = targets.length;
  const W1 = randomArray(rng, hidden * nin, 1 / Math.sqrt(nin));
  const b1 = randomArray(rng, hidden, 0.1);
  const W2 = randomArray(rng, nout * hidden, 1 / Math.sqrt(hidden));
  const h = Array.from({ length: hidden }, (_, j) => {
    let s = b1[j];
    for (let i = 0; i < nin; i++) s += W1[j * nin + i] * x[i];
    return Math.max(0, s);
  });
  const b2 = Float32Array.from(targets, (t, k) => t - h.reduce((a, v, j) => a + W2[k * hidden + j] * v, 0));
  const g = new GraphBuilder();
  const xin = g.input({ name: 'x', dims: ['N', ...inShape] });
  const flat = inShape.length > 1 ? g.op('Flatten', [xin], { axis: 1 }) : xin;
  const z = g.op('Gemm', [flat, g.initializer('W1', [hidden, nin], W1), g.initializer('b1', [hidden], b1)], {
    transB: 1,
  });
  const a = g.op('Relu', [z]);
  g.op(
    'Gemm',
    [a, g.initializer('W2', [nout, hidden], W2), g.initializer('b2', [nout], b2)],
    { transB: 1 },
    'y',
  );
  g.output('y', { dims: ['N', nout] });
  return g.build();
}

/** twoLayerClassifierBytes on a vector input, parsed */
export function twoLayerClassifier(rng: Rng, x: Float32Array, hidden: number, targets: number[]) {
  return parseModel(twoLayerClassifierBytes(rng, x, hidden, targets), { source: 'two-layer classifier' });
}
