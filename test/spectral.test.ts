/**
 * Properties of the spectrum and the decomposition that must hold for any R, and determinism
 * and completeness of the random / path methods.
 */
import { describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { Rng } from '../src/methods/random.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { analyze } from '../src/spectral/analyze.js';
import { decompose } from '../src/spectral/decompose.js';
import { l1OperatorNorm } from '../src/spectral/redistribution.js';
import { scoresFromSpectrum } from '../src/spectral/scores.js';
import { applyR, orthogonalityError, thinSvd } from '../src/spectral/svd.js';
import { inputs, runnerFor } from './helpers/fixtures.js';

const scores = async (R: Float64Array, d: number, c: number) => {
  const svd = await thinSvd(R, d, c);
  return { svd, s: scoresFromSpectrum(svd.singularValues, l1OperatorNorm(R, d, c)) };
};

function random(rng: Rng, d: number, c: number): Float64Array {
  return Float64Array.from({ length: d * c }, () => rng.normal());
}

describe('spectral scores', () => {
  it('SSM lies in [1, √r] and is invariant to scaling, for 20 random matrices', async () => {
    const rng = new Rng(1);
    for (let t = 0; t < 20; t++) {
      const d = 5 + rng.int(60);
      const c = 1 + rng.int(12);
      const R = random(rng, d, c);
      const { svd, s } = await scores(R, d, c);
      expect(s.ssm).toBeGreaterThanOrEqual(1 - 1e-12);
      expect(s.ssm).toBeLessThanOrEqual(Math.sqrt(svd.r) + 1e-12);
      let fro = 0;
      for (const v of R) fro += v * v;
      expect(Math.abs(s.sensitivity - Math.sqrt(fro)) / Math.sqrt(fro)).toBeLessThan(1e-10);
      const scaled = (
        await scores(
          R.map((v) => -3.7 * v),
          d,
          c,
        )
      ).s;
      expect(Math.abs(scaled.ssm - s.ssm)).toBeLessThan(1e-10);
      expect(Math.abs(scaled.sigma1 - 3.7 * s.sigma1) / s.sigma1).toBeLessThan(1e-10);
    }
  });
  it('a rank-one R has SSM 1; orthogonal columns of equal norm give √c', async () => {
    const rng = new Rng(2);
    const d = 40;
    const c = 7;
    const u = random(rng, d, 1);
    const v = random(rng, c, 1);
    const R1 = new Float64Array(d * c).map((_, q) => u[Math.floor(q / c)] * v[q % c]);
    const a = await scores(R1, d, c);
    expect(a.svd.r).toBe(1);
    expect(Math.abs(a.s.ssm - 1)).toBeLessThan(1e-12);
    // columns: scaled standard basis vectors e_{3k}·2 (orthogonal, equal norm)
    const R2 = new Float64Array(d * c);
    for (let k = 0; k < c; k++) R2[3 * k * c + k] = 2;
    const b = await scores(R2, d, c);
    expect(Math.abs(b.s.ssm - Math.sqrt(c))).toBeLessThan(1e-12);
    expect(Math.abs(b.s.sigma1 - 2)).toBeLessThan(1e-12);
    expect(Math.abs(b.s.effectiveRank - c)).toBeLessThan(1e-9);
  });
  it('matches the singular values of an explicit small SVD and has orthonormal singular vectors', async () => {
    const rng = new Rng(3);
    const d = 300;
    const c = 10;
    const R = random(rng, d, c);
    const { svd } = await scores(R, d, c);
    const o = orthogonalityError(R, svd);
    expect(o.u).toBeLessThan(1e-10);
    expect(o.v).toBeLessThan(1e-10);
    // Σσ² equals the Frobenius norm and σ1 maximises ‖R v‖ over random unit vectors
    for (let t = 0; t < 50; t++) {
      const v = Float64Array.from({ length: c }, () => rng.normal());
      const n = Math.hypot(...v);
      const Rv = applyR(
        R,
        d,
        c,
        v.map((x) => x / n),
      );
      expect(Math.hypot(...Rv)).toBeLessThanOrEqual(svd.singularValues[0] + 1e-9);
    }
  });
  it('the components and the remainder sum to R·y', async () => {
    const rng = new Rng(4);
    const d = 50;
    const c = 9;
    const R = random(rng, d, c);
    const { svd } = await scores(R, d, c);
    const y = Float64Array.from({ length: c }, () => rng.normal());
    for (const m of [0, 3, 9]) {
      const dc = decompose(R, svd, y, m);
      const Ry = applyR(R, d, c, y);
      for (let i = 0; i < d; i++) {
        let s = dc.remainder[i];
        for (const comp of dc.components) s += comp[i];
        expect(Math.abs(s - Ry[i])).toBeLessThan(1e-10);
      }
      if (m === 9) for (const v of dc.remainder) expect(Math.abs(v)).toBeLessThan(1e-9);
    }
  });
});

describe('redistribution matrix on a real model', () => {
  const runner = runnerFor('mnist-cnn');
  const { x, d } = inputs('mnist-cnn');
  const x0 = x.slice(0, d);
  it('inactive policies: zero keeps c columns with zeros, drop removes them, keep divides', async () => {
    const m = createMethod(runner, { method: 'gi' });
    const z = await analyze(m, x0, { inactive: 'zero' });
    const dr = await analyze(m, x0, { inactive: 'drop' });
    const k = await analyze(m, x0, { inactive: 'keep' });
    const inactive = z.matrix.inactiveOutputs;
    expect(inactive.length).toBeGreaterThan(0);
    expect(z.matrix.c).toBe(10);
    expect(dr.matrix.c).toBe(10 - inactive.length);
    expect(k.matrix.c).toBe(10);
    for (const j of inactive) for (let i = 0; i < d; i++) expect(z.matrix.R[i * 10 + j]).toBe(0);
    expect(z.svd.singularValues.map((s) => s.toFixed(9))).toEqual(
      dr.svd.singularValues.map((s) => s.toFixed(9)),
    );
  });
  it('SmoothGrad and IG are bit-identical for the same seed; IG reports its completeness gap', async () => {
    const { seeds, K } = oneHotSeeds(10);
    const sg = (seed: number) =>
      createMethod(runner, { method: 'sg', noise: 0.2, samples: 4, seed }).attribute(x0, seeds, K);
    const a = (await sg(7)).attributions;
    const b = (await sg(7)).attributions;
    const c = (await sg(8)).attributions;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    const gaps: Record<number, number> = {};
    for (const m of [5, 50]) {
      const ig = await createMethod(runner, { method: 'ig', steps: m, rule: 'trapezoid' }).attribute(
        x0,
        seeds,
        K,
      );
      gaps[m] = Math.max(...ig.diagnostics!.completenessGap.map(Math.abs));
    }
    expect(gaps[50]).toBeLessThan(gaps[5]);
  });
});

describe('memory guard', () => {
  it('refuses an R above the byte limit before computing anything', async () => {
    const runner = runnerFor('mnist-cnn');
    const { x, d } = inputs('mnist-cnn');
    const m = createMethod(runner, { method: 'gradient' });
    await expect(analyze(m, x.slice(0, d), { inactive: 'keep', maxBytes: 1000 })).rejects.toThrow(
      /R would need .* GiB \(10 outputs × 784 input values\), above the .* limit: use --matrix-free/,
    );
  });
});
