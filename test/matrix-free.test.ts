/**
 * Matrix-free estimates against the exact spectrum: exact when the block covers all outputs,
 * and within the reported error otherwise (using the intermediate flattened layer as output to get
 * many columns).
 */
import { describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { truncateAt } from '../src/model/ir.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { estimateSpectrum } from '../src/spectral/matrix-free.js';
import { inputs, rel, runnerFor } from './helpers/fixtures.js';

describe('matrix-free spectral estimates', () => {
  const { x, d } = inputs('vgg-mini-bn');
  const x0 = x.slice(0, d);
  it('equal the exact σ1, ‖R‖_F and SSM when the block covers all 10 outputs (LRP, G×I, gradient; pixels)', async () => {
    const runner = runnerFor('vgg-mini-bn');
    for (const spec of [
      { method: 'lrp' as const, composite: 'vgg16-paper', gamma: 0.25 },
      { method: 'gi' as const },
      { method: 'gradient' as const },
    ]) {
      const m = createMethod(runner, spec);
      const exact = await analyze(m, x0, { features: 'pixels', inactive: 'zero' });
      const est = await estimateSpectrum(m, x0, { block: 10, features: 'pixels', inactive: 'zero' });
      expect(est.exact).toBe(true);
      expect(rel(est.sigma1, exact.scores.sigma1), spec.method).toBeLessThan(1e-5);
      expect(rel(est.frobenius, exact.scores.sensitivity), spec.method).toBeLessThan(1e-5);
      expect(rel(est.ssm, exact.scores.ssm), spec.method).toBeLessThan(1e-5);
      expect(est.sigma1Residual / est.sigma1).toBeLessThan(1e-4);
    }
  });
  it('estimate σ1 and ‖R‖_F of a 1024-column R from 8-wide blocks within their error bars', async () => {
    // output layer: the 1024 flattened features of vgg-mini-bn, so R is 1024 × 1024 (elements)
    const base = runnerFor('vgg-mini-bn').model;
    const model = truncateAt(base, base.layers.find((l) => l.op.type === 'reshape')!.output);
    const runner = new ModelRunner(model, new NodeEngine());
    const m = createMethod(runner, { method: 'lrp', composite: 'vgg16-paper', gamma: 0.25 });
    const exact = await analyze(m, x0, { features: 'pixels', inactive: 'zero' });
    const est = await estimateSpectrum(m, x0, {
      block: 8,
      iterations: 15,
      probes: 32,
      features: 'pixels',
      inactive: 'zero',
      seed: 1,
    });
    expect(est.exact).toBe(false);
    expect(est.backwardSeeds).toBeLessThan(300);
    expect(est.sigma1).toBeLessThanOrEqual(exact.scores.sigma1 * (1 + 1e-9));
    expect(rel(est.sigma1, exact.scores.sigma1)).toBeLessThan(1e-2);
    expect(Math.abs(est.frobenius - exact.scores.sensitivity)).toBeLessThan(
      4 * est.frobeniusStdErr + 1e-6 * exact.scores.sensitivity,
    );
  });
});
