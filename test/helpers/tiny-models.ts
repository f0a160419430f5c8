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
