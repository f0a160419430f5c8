/**
 * The adaptive matrix-free estimator for every linear method (LRP, gradient, G×I, SmoothGrad,
 * IG): over many seeds the exact σ1 and ‖R‖_F lie inside the certified intervals, the requested
 * accuracy is reached, and a small c is computed exactly. R is 1024 × 1024: the output is the
 * flattened feature layer of vgg-mini-bn (1024 values), the features its 32×32 pixels.
 */
import { describe, expect, it } from 'vitest';
import { createMethod, type MethodSpec } from '../src/methods/factory.js';
import { truncateAt } from '../src/model/ir.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { estimateSpectrum } from '../src/spectral/matrix-free.js';
import { inputs, rel, runnerFor } from './helpers/fixtures.js';

const SPECS: MethodSpec[] = [
  { method: 'lrp', composite: 'vgg16-paper', gamma: 0.25, preprocess: 'imagenet' },
  { method: 'gradient' },
  { method: 'gi' },
  { method: 'sg', noise: 0.1, samples: 3, seed: 5 },
  { method: 'ig', steps: 3, baseline: 'black', preprocess: 'imagenet' },
];

describe('adaptive matrix-free spectra', () => {
  const { x, d } = inputs('vgg-mini-bn');
  const x0 = x.slice(0, d);
  const base = runnerFor('vgg-mini-bn').model;
  const model = truncateAt(base, base.layers.find((l) => l.op.type === 'reshape')!.output);
  const runner = new ModelRunner(model, new NodeEngine());

  for (const spec of SPECS) {
    it(`${spec.method}: exact σ1 and ‖R‖_F inside the certified bounds over 10 seeds`, async () => {
      const m = createMethod(runner, spec);
      const exact = await analyze(m, x0, { features: 'pixels', inactive: 'zero' });
      const s1 = exact.scores.sigma1;
      const fro = exact.scores.sensitivity;
      let frobeniusMisses = 0;
      for (let seed = 0; seed < 10; seed++) {
        const e = await estimateSpectrum(m, x0, { seed, tolSigma1: 1e-2, tolFrobenius: 2e-2 });
        expect(e.exact).toBe(false);
        expect(e.certified.sigma1, `seed ${seed}`).toBe(true);
        expect(e.certified.frobenius, `seed ${seed}`).toBe(true);
        // σ1: the Ritz value is a lower bound; the residual bounds the distance from above
        expect(e.sigma1Bounds[0]).toBeLessThanOrEqual(s1 * (1 + 1e-6));
        expect(e.sigma1Bounds[1], `seed ${seed}`).toBeGreaterThanOrEqual(s1 * (1 - 1e-6));
        expect(rel(e.sigma1, s1)).toBeLessThanOrEqual(1e-2 + 1e-6);
        // ‖R‖_F: a 3-standard-error interval, so a miss is possible but must be rare
        if (fro < e.frobeniusBounds[0] * (1 - 1e-6) || fro > e.frobeniusBounds[1] * (1 + 1e-6))
          frobeniusMisses++;
        expect(rel(e.frobenius, fro), `seed ${seed}`).toBeLessThan(4e-2);
        expect(e.ssmBounds[0]).toBeLessThanOrEqual(e.ssm);
        expect(e.ssmBounds[1]).toBeGreaterThanOrEqual(e.ssm);
        // far fewer passes than the 1024 of the exact R
        expect(e.backwardSeeds + e.forwardModeTangents).toBeLessThan(1024);
      }
      expect(frobeniusMisses).toBeLessThanOrEqual(1);
    }, 120_000);
  }

  it('a tighter tolerance costs more passes and is still certified', async () => {
    const m = createMethod(runner, SPECS[0]);
    const exact = await analyze(m, x0, { features: 'pixels', inactive: 'zero' });
    const loose = await estimateSpectrum(m, x0, { seed: 3, tolSigma1: 1e-1, tolFrobenius: 1e-1 });
    const tight = await estimateSpectrum(m, x0, { seed: 3, tolSigma1: 1e-4, tolFrobenius: 1e-2 });
    expect(tight.backwardSeeds + tight.forwardModeTangents).toBeGreaterThan(
      loose.backwardSeeds + loose.forwardModeTangents,
    );
    expect(tight.certified).toEqual({ sigma1: true, frobenius: true });
    expect(rel(tight.sigma1, exact.scores.sigma1)).toBeLessThan(1e-4);
    expect(rel(tight.frobenius, exact.scores.sensitivity)).toBeLessThan(1.5e-2);
  }, 120_000);

  it('is exact when the block reaches c (10 outputs), for SmoothGrad and IG too', async () => {
    const small = runnerFor('vgg-mini-bn');
    for (const spec of SPECS.slice(3)) {
      const m = createMethod(small, spec);
      const exact = await analyze(m, x0, { features: 'pixels', inactive: 'zero' });
      const e = await estimateSpectrum(m, x0, { seed: 1 });
      expect(e.exact).toBe(true);
      expect(e.backwardSeeds).toBe(10);
      expect(e.backwardRows).toBe(10 * 3);
      expect(rel(e.sigma1, exact.scores.sigma1)).toBeLessThan(1e-5);
      expect(rel(e.frobenius, exact.scores.sensitivity)).toBeLessThan(1e-5);
    }
  });

  it('refuses Shapley with a clear error', async () => {
    const small = runnerFor('vgg-mini-bn');
    const m = createMethod(small, { method: 'shapley', samples: 1, patch: 8 });
    await expect(estimateSpectrum(m, x0)).rejects.toThrow(/linear in the seed .* not shapley/);
  });
});
