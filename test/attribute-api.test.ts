/**
 * One attribution convention across methods (DESIGN §1.2), on test digit 0 of the shipped model:
 * map k explains f_k. LRP maps are f_k × R's column k; IG and Shapley maps sum to
 * f_k − f_k(baseline) within the completeness gap they report; LRP-0 on a bias-free network sums
 * to f_k, as G×I does.
 */
import { describe, expect, it } from 'vitest';
import { mnistTestDigit } from '../src/data/mnist.js';
import { createRunner, explainer, loadModel, redistributionMatrix } from '../src/index.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { paperMnistCnn } from '../src/train/architecture.js';

const sumOf = (a: Float32Array, k: number, per: number) =>
  a.subarray(k * per, (k + 1) * per).reduce((s, v) => s + v, 0);

describe('attribute: map k explains f_k', () => {
  const runner = createRunner(loadModel());
  const { x } = mnistTestDigit(0);
  const d = 784;

  it('LRP maps equal f_k × column k of R; --normalized gives R itself', async () => {
    const ex = explainer(runner, { method: 'lrp', composite: 'gamma-all', gamma: 0.25 });
    const a = await ex.attribute(x);
    expect(a.convention).toBe('f_k');
    const norm = await ex.attribute(x, undefined, undefined, { normalized: true });
    expect(norm.convention).toBe('E_k/f_k');
    const R = await redistributionMatrix(ex.method, x);
    let checked = 0;
    for (let k = 0; k < 10; k++) {
      const fk = a.outputs[k];
      let scale = 0;
      for (let i = 0; i < d; i++) scale = Math.max(scale, Math.abs(fk * R.R[i * 10 + k]));
      for (let i = 0; i < d; i++) {
        const expected = fk > 0 ? fk * R.R[i * 10 + k] : a.attributions[k * d + i];
        expect(Math.abs(a.attributions[k * d + i] - expected)).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
        expect(Math.abs(norm.attributions[k * d + i] - R.R[i * 10 + k])).toBeLessThanOrEqual(
          (1e-5 * scale) / Math.max(Math.abs(fk), 1e-6) + 1e-7,
        );
      }
      if (fk > 0) checked++;
    }
    expect(checked).toBeGreaterThan(0);
    expect(norm.inactiveTargets).toEqual(a.outputs.map((v, k) => (v > 0 ? -1 : k)).filter((k) => k >= 0));
  });

  it('IG maps sum to f_k − f_k(baseline) within the reported completeness gap', async () => {
    const a = await explainer(runner, { method: 'ig', steps: 32 }).attribute(x, [0, 3, 7], 'black');
    expect(a.baselineOutputs).toBeDefined();
    a.targets.forEach((k, i) => {
      const delta = a.outputs[k] - a.baselineOutputs![k];
      const gap = a.diagnostics!.completenessGap[i];
      expect(Math.abs(sumOf(a.attributions, i, d) - delta - gap)).toBeLessThan(1e-3 * (1 + Math.abs(delta)));
      // the gap itself is small relative to the explained difference at 32 steps
      expect(Math.abs(gap)).toBeLessThan(0.2 * Math.abs(delta) + 0.05);
    });
  });

  it('Shapley group values sum to f_k − f_k(baseline); every pixel holds its group value', async () => {
    const a = await explainer(runner, { method: 'shapley', patch: 7, samples: 8, seed: 1 }).attribute(x);
    const g = a.groups!;
    expect(g.count).toBe(16);
    a.targets.forEach((k, i) => {
      const delta = a.outputs[k] - a.baselineOutputs![k];
      let s = 0;
      for (let f = 0; f < g.count; f++) s += g.attributions[i * g.count + f];
      expect(Math.abs(s - delta)).toBeLessThan(1e-4 * (1 + Math.abs(delta)));
      for (let p = 0; p < d; p += 37)
        expect(a.attributions[i * d + p]).toBe(g.attributions[i * g.count + g.mask[p]]);
    });
  });

  it('LRP-0 on a bias-free network sums to f_k and equals G×I', async () => {
    const free = new ModelRunner(paperMnistCnn(5), new NodeEngine());
    const lrp0 = await explainer(free, { method: 'lrp', composite: '*=zero' }).attribute(x);
    const gi = await explainer(free, { method: 'gi' }).attribute(x);
    for (let k = 0; k < 10; k++) {
      const fk = lrp0.outputs[k];
      expect(Math.abs(sumOf(lrp0.attributions, k, d) - fk)).toBeLessThan(1e-4 * (1 + Math.abs(fk)));
      expect(Math.abs(sumOf(gi.attributions, k, d) - fk)).toBeLessThan(1e-4 * (1 + Math.abs(fk)));
    }
    // LRP-0 with relevance f_k at the output is gradient × input on a ReLU network
    let maxAbs = 0;
    let maxDiff = 0;
    for (let q = 0; q < gi.attributions.length; q++) {
      maxAbs = Math.max(maxAbs, Math.abs(gi.attributions[q]));
      maxDiff = Math.max(maxDiff, Math.abs(lrp0.attributions[q] - gi.attributions[q]));
    }
    expect(maxAbs).toBeGreaterThan(0);
    // not bit-equal: LRP-0's denominators are stabilised (z + ε·sign z), float32 sums differ in order
    expect(maxDiff).toBeLessThan(5e-3 * maxAbs);
    await free.release();
  });

  it('baselines apply to ig and shapley only', async () => {
    await expect(explainer(runner, { method: 'gradient' }).attribute(x, 0, 'black')).rejects.toThrow(
      /baselines apply to ig and shapley/,
    );
    await expect(explainer(runner, { method: 'gi' }).attribute(x, 12)).rejects.toThrow(/target 12/);
  });
});
