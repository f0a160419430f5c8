/**
 * The model layer on hand-built graphs: trailing Softmax removal, Dropout/Identity aliases, an
 * unfoldable BatchNorm kept as a per-channel affine layer, GlobalAveragePool, MatMul+Add fused into
 * a linear layer; their gradients against finite differences, their LRP maps against the forward
 * mode (adjoint identity), and chunking under a tiny memory budget giving identical results.
 */
import { describe, expect, it } from 'vitest';
import { GRADIENT_PASS } from '../src/methods/gradient.js';
import { lrpPass } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import { parseModel } from '../src/model/load.js';
import { GraphBuilder } from '../src/propagate/builder.js';
import { customComposite } from '../src/rules/composites.js';
import { minimumBudget } from '../src/runtime/memory.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { randomArray } from './helpers/tiny-models.js';

function buildNet(seed: number) {
  const rng = new Rng(seed);
  const g = new GraphBuilder();
  const x = g.input({ name: 'input', dims: ['N', 2, 9, 9] });
  const w1 = g.initializer('w1', [4, 2, 3, 3], randomArray(rng, 72, 0.5));
  const b1 = g.initializer('b1', [4], randomArray(rng, 4, 0.1));
  let h = g.op('Conv', [x, w1, b1], { pads: [1, 1, 1, 1] });
  h = g.op('Relu', [h]);
  // BN after ReLU cannot be folded into the conv: kept as an affine layer
  const bn = ['s', 'b', 'm', 'v'].map((n, i) =>
    g.initializer(
      n,
      [4],
      Float32Array.from({ length: 4 }, () =>
        i === 3 ? 0.5 + rng.uniform() : rng.normal() * 0.3 + (i === 0 ? 1 : 0),
      ),
    ),
  );
  h = g.op('BatchNormalization', [h, ...bn], { f_epsilon: 1e-5 });
  h = g.op('Dropout', [h]);
  h = g.op('GlobalAveragePool', [h]);
  h = g.op('Flatten', [h], { axis: 1 });
  h = g.op('Identity', [h]);
  const w2 = g.initializer('w2', [4, 3], randomArray(rng, 12));
  h = g.op('MatMul', [h, w2]);
  h = g.op('Add', [h, g.initializer('b2', [3], randomArray(rng, 3, 0.1))]);
  g.op('Softmax', [h], { axis: 1 }, 'probs');
  g.output('probs', { dims: ['N', 3] });
  return parseModel(g.build(), { source: 'hand-built' });
}

describe('hand-built model', () => {
  const model = buildNet(1);
  const runner = new ModelRunner(model, new NodeEngine());
  const x = randomArray(new Rng(2), 2 * 81);

  it('canonizes: softmax removed, BN kept as affine, MatMul+Add fused', () => {
    expect(model.layers.map((l) => l.op.type)).toEqual([
      'conv',
      'relu',
      'affine',
      'globalavgpool',
      'reshape',
      'linear',
    ]);
    expect(model.notes.join('\n')).toMatch(/removed trailing Softmax/);
    expect(model.notes.join('\n')).toMatch(/kept as a per-channel affine layer/);
    const lin = model.layers[5].op;
    expect(lin.type === 'linear' && lin.bias !== undefined).toBe(true);
  });

  it('gradients match central finite differences of the logits', async () => {
    const seeds = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const { attributions } = await runner.backward('gradient', GRADIENT_PASS, x, 1, seeds, 3);
    const rng = new Rng(3);
    for (let t = 0; t < 5; t++) {
      const v = randomArray(rng, x.length);
      const h = 1e-3; // small enough to cross few ReLU kinks, large enough for float32 differences
      const plus = await runner.forward(
        x.map((xi, i) => xi + h * v[i]),
        1,
      );
      const minus = await runner.forward(
        x.map((xi, i) => xi - h * v[i]),
        1,
      );
      for (let k = 0; k < 3; k++) {
        let dot = 0;
        for (let i = 0; i < x.length; i++) dot += attributions[k * x.length + i] * v[i];
        const fd = (plus[k] - minus[k]) / (2 * h);
        expect(Math.abs(fd - dot), `direction ${t} output ${k}`).toBeLessThan(
          1e-3 * Math.max(1, Math.abs(dot)),
        );
      }
    }
  });

  it('LRP and gradient pass the adjoint identity and do not change under a tiny memory budget', async () => {
    const rng = new Rng(4);
    const K = 5;
    const u = randomArray(rng, K * 3);
    const v = randomArray(rng, K * x.length);
    // the smallest budget the model runs in: one row per run
    const tiny = new ModelRunner(model, new NodeEngine(), { memoryBudget: minimumBudget(runner.memory) });
    expect(tiny.rowsPerRun()).toBe(1);
    expect(tiny.rowsPerRun('forward-mode')).toBe(1);
    // below it, the runner refuses before anything runs, naming what does not fit
    expect(() => new ModelRunner(model, new NodeEngine(), { memoryBudget: 1 })).toThrow(
      /memory budget 0\.00 GiB is too small .* weights .* one session .* raise --memory-budget/,
    );
    for (const [key, pass] of [
      ['gradient', GRADIENT_PASS],
      ['lrp', lrpPass(runner, customComposite('conv=gamma:0.5,linear=epsilon:0.01')).pass],
    ] as const) {
      const a = await runner.backward(key, pass, x, 1, u, K);
      const b = await tiny.backward(key, pass, x, 1, u, K);
      expect(Buffer.from(a.attributions.buffer).equals(Buffer.from(b.attributions.buffer))).toBe(true);
      const fm = await runner.forwardMode(key, pass, x, v, K);
      for (let k = 0; k < K; k++) {
        let lhs = 0;
        let scale = 0;
        for (let i = 0; i < x.length; i++) {
          lhs += a.attributions[k * x.length + i] * v[k * x.length + i];
          scale += Math.abs(a.attributions[k * x.length + i] * v[k * x.length + i]);
        }
        let rhs = 0;
        for (let o = 0; o < 3; o++) rhs += u[k * 3 + o] * fm[k * 3 + o];
        expect(Math.abs(lhs - rhs) / scale, `${key} seed ${k}`).toBeLessThan(1e-5);
      }
    }
  });
});
