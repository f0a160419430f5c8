/**
 * The choices issue 9's ablation varies: the mnist-paper composite's rule assignment, the
 * `average` max-pool rule against a hand-computed matrix oracle, and every column choice of R
 * against plain reference arithmetic on the same explanation.
 */
import { describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { lrp } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { assignRules, customComposite, describeRule, presetComposite } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { parseColumns, selectOutputs } from '../src/spectral/columns.js';
import { matrixFromExplanation, redistributionMatrix } from '../src/spectral/redistribution.js';
import { runnerFor } from './helpers/fixtures.js';
import { graphModel, randomArray } from './helpers/tiny-models.js';

describe('composite mnist-paper', () => {
  it('puts z^B on the first conv and γ on every other conv and on the dense layer', () => {
    const runner = runnerFor('mnist-cnn');
    const rules = assignRules(runner.model, presetComposite('mnist-paper', 0.5, { low: [0], high: [1] }));
    const params = runner.model.layers.filter((l) => l.op.type === 'conv' || l.op.type === 'linear');
    expect(params.length).toBeGreaterThan(2);
    params.forEach((l, i) => {
      const r = describeRule(rules.get(l.name)!);
      expect(r, l.name).toBe(i === 0 ? 'zbox(low=[0], high=[1])' : 'gamma(gamma=0.5)');
    });
    expect(params.at(-1)!.op.type).toBe('linear');
    // gamma-all differs exactly there: ε on the dense layer
    const ga = assignRules(runner.model, presetComposite('gamma-all', 0.5, { low: [0], high: [1] }));
    expect(describeRule(ga.get(params.at(-1)!.name)!)).toBe('epsilon(epsilon=0.000001)');
  });
});

/** x [1,H,W] → MaxPool → Flatten → Gemm [c × P] (+ b) */
function poolModel(H: number, W: number, k: number, s: number, p: number, Wt: Float32Array, b: Float32Array) {
  const Ho = Math.floor((H + 2 * p - k) / s) + 1;
  const Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const P = Ho * Wo;
  const c = b.length;
  const built = graphModel(
    (g, x) => {
      const y = g.op('MaxPool', [x], { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] });
      const f = g.op('Flatten', [y], { axis: 1 });
      return g.op('Gemm', [f, g.initializer('W', [c, P], Wt), g.initializer('b', [c], b)], { transB: 1 });
    },
    [1, H, W],
    ['N', c],
  );
  return { model: built.model(), Ho, Wo, P };
}

describe('max-pool rule "average"', () => {
  for (const [H, W, k, s, p] of [
    [4, 4, 2, 2, 0],
    [5, 5, 3, 2, 1],
  ]) {
    it(`equals the hand-computed matrix on ${H}×${W}, kernel ${k}, stride ${s}, pad ${p} (overlapping windows, padding not counted)`, async () => {
      const rng = new Rng(H * 10 + k);
      const c = 3;
      const Ho = Math.floor((H + 2 * p - k) / s) + 1;
      const Wo = Math.floor((W + 2 * p - k) / s) + 1;
      const Wt = randomArray(rng, c * Ho * Wo);
      const b = randomArray(rng, c, 0.1);
      const x = Float32Array.from({ length: H * W }, () => 0.1 + Math.abs(rng.normal()));
      const { model } = poolModel(H, W, k, s, p, Wt, b);
      const runner = new ModelRunner(model, new NodeEngine());
      const m = lrp(runner, customComposite('*=zero'), { maxpoolRule: 'average' });
      const { seeds, K } = oneHotSeeds(c);
      const ex = await m.attribute(x, seeds, K);
      // oracle: windows w with members; pooled value = max; LRP-0 on the dense layer, then
      // R_i = Σ_{w∋i} (x_i / n_w) R_w / (Σ_{i'∈w} x_i' / n_w)
      const windows: number[][] = [];
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          const members: number[] = [];
          for (let a = i * s - p; a < i * s - p + k; a++)
            for (let bb = j * s - p; bb < j * s - p + k; bb++)
              if (a >= 0 && a < H && bb >= 0 && bb < W) members.push(a * W + bb);
          windows.push(members);
        }
      const pooled = windows.map((w) => Math.max(...w.map((i) => x[i])));
      for (let kk = 0; kk < c; kk++) {
        let z = b[kk];
        pooled.forEach((v, w) => {
          z += v * Wt[kk * pooled.length + w];
        });
        const Rw = pooled.map((v, w) => (v * Wt[kk * pooled.length + w]) / (z + 1e-6 * Math.sign(z)));
        const Ri = new Float64Array(H * W);
        windows.forEach((members, w) => {
          const sum = members.reduce((acc, i) => acc + x[i], 0);
          for (const i of members) Ri[i] += (x[i] * Rw[w]) / sum;
        });
        const scale = Math.max(...Ri.map(Math.abs));
        for (let i = 0; i < H * W; i++)
          expect(
            Math.abs(ex.attributions[kk * H * W + i] - Ri[i]) / scale,
            `output ${kk} pixel ${i}`,
          ).toBeLessThan(1e-5);
        // conservation through the pool: Σ_i R_i = Σ_w R_w
        const sumIn = Ri.reduce((a2, v) => a2 + v, 0);
        expect(Math.abs(sumIn - Rw.reduce((a2, v) => a2 + v, 0))).toBeLessThan(1e-9);
      }
      // winner-take-all differs on the same model (relevance only on arg-max pixels)
      const wta = await lrp(runner, customComposite('*=zero')).attribute(x, seeds, K);
      let diff = 0;
      for (let i = 0; i < wta.attributions.length; i++)
        diff = Math.max(diff, Math.abs(wta.attributions[i] - ex.attributions[i]));
      expect(diff).toBeGreaterThan(1e-3);
      await runner.release();
    });
  }

  it('forward mode is the transpose: ⟨R v, u⟩ = ⟨v, Rᵀ u⟩ on the shipped-model architecture', async () => {
    const runner = runnerFor('mnist-cnn');
    const m = createMethod(runner, {
      method: 'lrp',
      composite: 'mnist-paper',
      gamma: 0.25,
      maxpoolRule: 'average',
    });
    const rng = new Rng(7);
    const x = Float32Array.from({ length: runner.inputSize }, () => Math.abs(rng.normal()));
    const c = runner.outputSize;
    const y = randomArray(rng, c);
    const u = randomArray(rng, runner.inputSize);
    const lp = m.linearPass!;
    const back = await runner.backward(lp.key, lp.pass, x, 1, y, 1);
    const products = await runner.forwardMode(lp.key, lp.pass, x, u, 1);
    let lhs = 0;
    for (let i = 0; i < u.length; i++) lhs += back.attributions[i] * u[i];
    let rhs = 0;
    for (let k = 0; k < c; k++) rhs += products[k] * y[k];
    expect(Math.abs(lhs - rhs) / Math.max(Math.abs(lhs), 1e-12)).toBeLessThan(1e-4);
  });
});

describe('column choices of R', () => {
  it('match reference arithmetic on one explanation, for LRP and for G×I', async () => {
    const runner = runnerFor('mnist-cnn');
    const rng = new Rng(3);
    const x = Float32Array.from({ length: runner.inputSize }, () => Math.max(0, rng.normal()));
    const c = runner.outputSize;
    const d = runner.inputSize;
    for (const spec of [
      { method: 'lrp' as const, composite: 'gamma-all', gamma: 0.25 },
      { method: 'gi' as const },
    ]) {
      const m = createMethod(runner, spec);
      const f = Array.from(await runner.forward(x, 1));
      const all = Array.from({ length: c }, (_, k) => k);
      const ex = await m.attribute(x, oneHotSeeds(c).seeds, c);
      // E_k: the map that explains f_k (LRP's raw column is E_k / f_k)
      const E = (k: number, i: number) => ex.attributions[k * d + i] * (m.divideByOutput ? 1 : f[k]);
      const positive = all.filter((k) => f[k] > 0);
      expect(positive.length).toBeGreaterThan(1);
      for (const text of ['output', 'raw', 'sum', 'top:2', 'raw+above:0', 'sum+top:3', 'output+above:5']) {
        const choice = parseColumns(text);
        for (const inactive of ['zero', 'drop'] as const) {
          const M = matrixFromExplanation(m, ex, all, f, { columns: choice, inactive });
          const sorted = [...all].sort((a, b) => f[b] - f[a] || a - b);
          const selected = choice.select
            ? 'top' in choice.select
              ? sorted.slice(0, choice.select.top).sort((a, b) => a - b)
              : all.filter((k) => f[k] > (choice.select as { above: number }).above)
            : all;
          const expectedCols = inactive === 'drop' ? selected.filter((k) => f[k] > 0) : selected;
          expect(M.columns, `${text} ${inactive}`).toEqual(expectedCols);
          expect(M.columnChoice).toBe(
            text.includes('+') || ['output', 'raw', 'sum'].includes(text) ? text : `output+${text}`,
          );
          expectedCols.forEach((k, j) => {
            let sum = 0;
            for (let i = 0; i < d; i++) sum += E(k, i);
            for (let i = 0; i < d; i += 7) {
              const ref =
                f[k] <= 0
                  ? 0
                  : choice.scale === 'raw'
                    ? E(k, i)
                    : choice.scale === 'sum'
                      ? E(k, i) / sum
                      : E(k, i) / f[k];
              const got = M.R[i * M.c + j];
              expect(
                Math.abs(got - ref),
                `${spec.method} ${text} ${inactive} k=${k} i=${i}`,
              ).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(ref), 1e-3));
            }
          });
        }
      }
      // the default choice equals what redistributionMatrix computes directly
      const direct = await redistributionMatrix(m, x);
      const viaEx = matrixFromExplanation(m, ex, all, f);
      expect(direct.columns).toEqual(viaEx.columns);
      let maxDiff = 0;
      for (let i = 0; i < direct.R.length; i++)
        maxDiff = Math.max(maxDiff, Math.abs(direct.R[i] - viaEx.R[i]));
      expect(maxDiff).toBeLessThan(1e-6);
    }
  });

  it('parses and rejects column specifications with the flag named', () => {
    expect(parseColumns('sum+top:3')).toEqual({ scale: 'sum', select: { top: 3 } });
    expect(parseColumns('above:-0.5')).toEqual({ scale: 'output', select: { above: -0.5 } });
    expect(selectOutputs([3, 1, 3, 0], parseColumns('top:2'))).toEqual([0, 2]);
    for (const bad of ['top:0', 'top:1.5', 'sum+raw', 'foo', 'top:2+above:1', 'above:x', ''])
      expect(() => parseColumns(bad), bad).toThrow(/--columns/);
  });
});
