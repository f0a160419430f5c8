/**
 * Matrix oracles for the LRP conventions of the modern-CNN ops (elementwise.ts, routing.ts): on a
 * tiny layer the compiled backward pass (seeded with every unit vector) must equal the explicit
 * matrix of the rule, its forward mode the transpose, and the column sums the documented
 * conservation (1 per unit seed).
 *  - routing (Pad constant/reflect/edge, Slice, Split, Gather, Transpose, Concat): the matrix is the
 *    adjoint of the map, read off ONNX Runtime's own forward on an input of distinct values
 *    (y_o = x_i ⇔ output o came from input i), independent of the compiler's adjoints;
 *  - element-wise activations pass relevance (identity);
 *  - a gated product passes all relevance to the signal, or half to each factor (proportional);
 *  - ReduceMean / ReduceSum: the z-rule of an average pool, R_i = x_i·w·R_c / stab(y_c);
 *  - a difference: R_a = R·a/stab(z), R_b = −R·b/stab(z).
 */
import { describe, expect, it } from 'vitest';
import { lrp } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import type { Model } from '../src/model/ir.js';
import type { GraphBuilder } from '../src/propagate/builder.js';
import type { PassMode } from '../src/propagate/compile.js';
import { customComposite } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { graphModel, randomArray } from './helpers/tiny-models.js';

const SHAPE = [2, 3, 4];
const D = 24;
const stab = (u: number) => u + 1e-6 * (u >= 0 ? 1 : -1);

/** R[o][i]: relevance (or gradient) at input i for a unit seed on output o */
async function lrpMatrix(model: Model, x: Float32Array, pass: PassMode): Promise<number[][]> {
  const r = new ModelRunner(model, new NodeEngine());
  const c = r.outputSize;
  const seeds = new Float32Array(c * c);
  for (let k = 0; k < c; k++) seeds[k * c + k] = 1;
  const { attributions } = await r.backward('p', pass, x, 1, seeds, c);
  // forward mode must be the transpose: (Rᵀ e_i)_o = R[o][i]
  const tangents = new Float32Array(D * D);
  for (let i = 0; i < D; i++) tangents[i * D + i] = 1;
  const prod = await r.forwardMode('p', pass, x, tangents, D);
  const R = Array.from({ length: c }, (_, o) => Array.from({ length: D }, (_, i) => attributions[o * D + i]));
  for (let o = 0; o < c; o++)
    for (let i = 0; i < D; i++) expect(prod[i * c + o], `forward mode [${o}][${i}]`).toBeCloseTo(R[o][i], 5);
  await r.release();
  return R;
}

const LRP: PassMode = { mode: 'lrp', rules: new Map() };
const distinct = Float32Array.from({ length: D }, (_, i) => i + 1);

function expectMatrix(got: number[][], want: number[][], what: string) {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (const row of want) for (const v of row) scale = Math.max(scale, Math.abs(v));
  for (let o = 0; o < want.length; o++)
    for (let i = 0; i < D; i++)
      expect(Math.abs(got[o][i] - want[o][i]) / scale, `${what} [${o}][${i}]`).toBeLessThan(1e-5);
}

function columnSums(R: number[][]): number[] {
  return R.map((row) => row.reduce((a, b) => a + b, 0));
}

const ROUTING: [string, (g: GraphBuilder, x: string) => string][] = [
  [
    'Pad constant (value 0.5, one side cropped)',
    (g, x) => g.op('Pad', [x, g.ints([0, 0, 1, 2, 0, 1, -1, 0]), g.floats([0.5])], { mode: 'constant' }),
  ],
  ['Pad reflect', (g, x) => g.op('Pad', [x, g.ints([0, 0, 2, 1, 0, 0, 1, 3])], { mode: 'reflect' })],
  ['Pad edge', (g, x) => g.op('Pad', [x, g.ints([0, 1, 1, 0, 0, 0, 2, 2])], { mode: 'edge' })],
  ['Slice', (g, x) => g.op('Slice', [x, g.ints([1, -3]), g.ints([3, 100]), g.ints([2, 3])])],
  [
    'Split + Concat (swapped halves)',
    (g, x) => {
      const [a, b] = g.opN('Split', [x, g.ints([1, 2])], { axis: 2 }, 2);
      return g.op('Concat', [b, a], { axis: 2 });
    },
  ],
  ['Gather (vector indices)', (g, x) => g.op('Gather', [x, g.ints([3, 0, 3])], { axis: 3 })],
  [
    'Gather (scalar index) + Unsqueeze',
    (g, x) => g.op('Unsqueeze', [g.op('Gather', [x, g.ints([1], [])], { axis: 1 }), g.ints([1])]),
  ],
  ['Transpose', (g, x) => g.op('Transpose', [x], { perm: [0, 3, 1, 2] })],
  [
    'Reshape + Transpose + Reshape (channel shuffle)',
    (g, x) => {
      const r = g.op('Reshape', [x, g.ints([-1, 2, 1, 3, 4])]);
      return g.op('Reshape', [g.op('Transpose', [r], { perm: [0, 2, 1, 3, 4] }), g.ints([-1, 2, 3, 4])]);
    },
  ],
];

describe.each(ROUTING)('%s routes relevance as its adjoint', (_name, build) => {
  it('LRP and gradient equal the map read off the forward values; columns sum to 1 inside', async () => {
    const { model } = graphModel(build, SHAPE, ['N', 'rest']);
    const m = model();
    const r = new ModelRunner(m, new NodeEngine());
    const y = await r.forward(distinct, 1);
    await r.release();
    const want = Array.from(y, (v) => Array.from(distinct, (xi) => (xi === v ? 1 : 0)));
    for (const pass of [LRP, { mode: 'gradient' } as PassMode]) {
      const R = await lrpMatrix(m, distinct, pass);
      expectMatrix(R, want, pass.mode);
      // an output copied from the input keeps its relevance; a constant pad cell has none
      for (const [o, s] of columnSums(R).entries()) expect(s).toBeCloseTo(distinct.includes(y[o]) ? 1 : 0, 6);
    }
  });
});

describe('element-wise activations pass relevance unchanged', () => {
  it.each(['Sigmoid', 'Tanh', 'HardSwish', 'LeakyRelu', 'Elu', 'Selu', 'Erf'])(
    '%s: R = identity',
    async (op) => {
      const { model } = graphModel((g, x) => g.op(op, [x]), SHAPE, ['N', 2, 3, 4]);
      const x = randomArray(new Rng(3), D, 2);
      const R = await lrpMatrix(model(), x, LRP);
      expectMatrix(
        R,
        Array.from({ length: D }, (_, o) => Array.from({ length: D }, (_, i) => (o === i ? 1 : 0))),
        op,
      );
    },
  );
});

/** x ⊙ sigmoid(GAP(x)): squeeze-excitation on the input itself */
const squeezeExcite = (g: GraphBuilder, x: string) =>
  g.op('Mul', [x, g.op('Sigmoid', [g.op('GlobalAveragePool', [x])])]);

describe('gated products (squeeze-excitation, SiLU)', () => {
  const x = randomArray(new Rng(7), D, 1);
  const ch = (i: number) => Math.floor(i / 12);
  it('signal convention: all relevance to the gated signal, none into the gate', async () => {
    const { model } = graphModel(squeezeExcite, [2, 3, 4], ['N', 2, 3, 4]);
    const R = await lrpMatrix(model(), x, LRP);
    expectMatrix(
      R,
      Array.from({ length: D }, (_, o) => Array.from({ length: D }, (_, i) => (o === i ? 1 : 0))),
      'SE',
    );
  });
  it('proportional convention: half to each factor; the gate half through the average pool z-rule', async () => {
    const { model } = graphModel(squeezeExcite, [2, 3, 4], ['N', 2, 3, 4]);
    const R = await lrpMatrix(model(), x, { mode: 'lrp', rules: new Map(), gateRule: 'proportional' });
    const mean = [0, 1].map((c) => x.slice(12 * c, 12 * c + 12).reduce((a, b) => a + b, 0) / 12);
    const want = Array.from({ length: D }, (_, o) =>
      Array.from(
        { length: D },
        (_, i) => (o === i ? 0.5 : 0) + (ch(o) === ch(i) ? (0.5 * x[i]) / (12 * stab(mean[ch(i)])) : 0),
      ),
    );
    expectMatrix(R, want, 'SE proportional');
    for (const s of columnSums(R)) expect(s).toBeCloseTo(1, 5);
    // the same through the method's option
    const runner = new ModelRunner(model(), new NodeEngine());
    const seeds = new Float32Array(D * D);
    for (let k = 0; k < D; k++) seeds[k * D + k] = 1;
    const ex = await lrp(runner, customComposite('*=epsilon'), { gateRule: 'proportional' }).attribute(
      x,
      seeds,
      D,
    );
    expectMatrix(
      Array.from({ length: D }, (_, o) => Array.from(ex.attributions.subarray(o * D, (o + 1) * D))),
      want,
      'lrp(…, { gateRule })',
    );
    await runner.release();
  });
  it('GELU x·½(1 + erf(x/√2)): the affine map of the erf branch is the gate', async () => {
    // ½ inside the gate (torch puts it after the product: an ε-rule affine layer that passes
    // relevance up to the stabiliser, which an exact oracle would have to include)
    const gelu = (g: GraphBuilder, v: string) => {
      const e = g.op('Erf', [g.op('Div', [v, g.floats([Math.SQRT2])])]);
      return g.op('Mul', [v, g.op('Add', [g.op('Mul', [e, g.floats([0.5])]), g.floats([0.5])])]);
    };
    const { model } = graphModel(gelu, SHAPE, ['N', 2, 3, 4]);
    const R = await lrpMatrix(model(), x, LRP);
    expectMatrix(
      R,
      Array.from({ length: D }, (_, o) => Array.from({ length: D }, (_, i) => (o === i ? 1 : 0))),
      'GELU',
    );
  });
  it('SiLU x·σ(x): the sigmoid is the gate', async () => {
    const { model } = graphModel((g, v) => g.op('Mul', [g.op('Sigmoid', [v]), v]), SHAPE, ['N', 2, 3, 4]);
    const R = await lrpMatrix(model(), x, LRP);
    expectMatrix(
      R,
      Array.from({ length: D }, (_, o) => Array.from({ length: D }, (_, i) => (o === i ? 1 : 0))),
      'SiLU',
    );
  });
});

describe('reductions and differences (z-rule)', () => {
  const x = randomArray(new Rng(9), D, 1);
  it.each([
    [
      'ReduceMean over H, W (keepdims 0)',
      'ReduceMean',
      [2, 3],
      0,
      (i: number) => Math.floor(i / 12),
      2,
      1 / 12,
    ],
    ['ReduceSum over C (keepdims 1)', 'ReduceSum', [1], 1, (i: number) => i % 12, 12, 1],
  ] as const)('%s', async (_n, op, axes, keepdims, outOf, c, w) => {
    const build = (g: GraphBuilder, v: string) =>
      op === 'ReduceSum'
        ? g.op('ReduceSum', [v, g.ints([...axes])], { keepdims })
        : g.op('ReduceMean', [v], { axes: [...axes], keepdims });
    const { model } = graphModel(build, SHAPE, ['N', 'rest']);
    const y = new Array(c).fill(0);
    for (let i = 0; i < D; i++) y[outOf(i)] += x[i] * w;
    const R = await lrpMatrix(model(), x, LRP);
    const want = Array.from({ length: c }, (_, o) =>
      Array.from({ length: D }, (_, i) => (outOf(i) === o ? (x[i] * w) / stab(y[o]) : 0)),
    );
    expectMatrix(R, want, op);
    for (const s of columnSums(R)) expect(s).toBeCloseTo(1, 4);
  });
  it('Sub of two activations: R_a = R·a/stab(z), R_b = −R·b/stab(z); a quotient passes all to the numerator', async () => {
    const halves = (g: GraphBuilder, v: string) => g.opN('Split', [v, g.ints([1, 1])], { axis: 1 }, 2);
    for (const op of ['Sub', 'Div']) {
      const { model } = graphModel((g, v) => g.op(op, halves(g, v)), SHAPE, ['N', 1, 3, 4]);
      const R = await lrpMatrix(model(), x, LRP);
      const want = Array.from({ length: 12 }, (_, o) =>
        Array.from({ length: D }, (_, i) => {
          if (op === 'Div') return i === o ? 1 : 0;
          const z = x[o] - x[o + 12];
          return i === o ? x[o] / stab(z) : i === o + 12 ? -x[o + 12] / stab(z) : 0;
        }),
      );
      expectMatrix(R, want, op);
    }
  });
});
