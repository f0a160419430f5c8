/**
 * Shapley value sampling against the exact (enumerated) Shapley values of the fixture's 8-patch
 * game: all 8! orders reproduce them, the mean of 25-permutation estimates over many seeds
 * converges to them (unbiasedness, checked against the estimator's own standard error), and
 * efficiency Σ_i φ_ik = f_k(x) − f_k(baseline) holds for every sample count.
 */
import { describe, expect, it } from 'vitest';
import { shapleySampling } from '../src/methods/shapley.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { inputs, manifest, npy, runnerFor } from './helpers/fixtures.js';

const S = manifest().shapley['mnist-cnn'];
const runner = runnerFor('mnist-cnn');
const mask = npy(S.patch_ids.file).data as Int32Array;
const exact = npy(S.phi_exact.file).data as Float64Array; // (n, 8, 10)
const { x, d } = inputs('mnist-cnn');
const baseline = new Float32Array(d);
const { seeds, K } = oneHotSeeds(10);

function allPermutations(n: number): Int32Array[] {
  const out: Int32Array[] = [];
  const p = Array.from({ length: n }, (_, i) => i);
  const rec = (k: number) => {
    if (k === n) {
      out.push(Int32Array.from(p));
      return;
    }
    for (let i = k; i < n; i++) {
      [p[k], p[i]] = [p[i], p[k]];
      rec(k + 1);
      [p[k], p[i]] = [p[i], p[k]];
    }
  };
  rec(0);
  return out;
}

describe('Shapley value sampling on 8 patches', () => {
  it('with all 8! orders equals the exact Shapley values within 1e-5', async () => {
    const perms = allPermutations(8);
    expect(perms.length).toBe(40320);
    for (const img of [0, 3]) {
      const m = shapleySampling(runner, { baseline, featureMask: mask, permutations: perms });
      const ex = await m.attribute(x.slice(img * d, (img + 1) * d), seeds, K);
      for (let k = 0; k < 10; k++)
        for (let f = 0; f < 8; f++) {
          expect(
            Math.abs(ex.groups!.attributions[k * 8 + f] - exact[(img * 8 + f) * 10 + k]),
            `image ${img} class ${k} patch ${f}`,
          ).toBeLessThan(1e-5);
        }
    }
  });

  it('25-sample estimates are unbiased: their mean over 400 seeds converges to the exact values', async () => {
    const img = 1;
    const xi = x.slice(img * d, (img + 1) * d);
    const cache = new Map<number, Float32Array>();
    const runs = 400;
    const sum = new Float64Array(80);
    const sq = new Float64Array(80);
    for (let s = 0; s < runs; s++) {
      const m = shapleySampling(runner, {
        baseline,
        featureMask: mask,
        samples: 25,
        seed: 1000 + s,
        coalitionCache: cache,
      });
      const g = (await m.attribute(xi, seeds, K)).groups!.attributions;
      for (let q = 0; q < 80; q++) {
        sum[q] += g[q];
        sq[q] += g[q] * g[q];
      }
    }
    let worstZ = 0;
    for (let k = 0; k < 10; k++)
      for (let f = 0; f < 8; f++) {
        const q = k * 8 + f;
        const mean = sum[q] / runs;
        const sd = Math.sqrt(Math.max(sq[q] / runs - mean * mean, 0));
        const se = sd / Math.sqrt(runs);
        const err = Math.abs(mean - exact[(img * 8 + f) * 10 + k]);
        worstZ = Math.max(worstZ, se > 0 ? err / se : err / 1e-9);
      }
    // 80 roughly normal z-scores: max |z| above 4.5 has probability < 1e-3 for an unbiased estimator
    expect(worstZ).toBeLessThan(4.5);
  });

  it('efficiency holds for every sample count', async () => {
    const xi = x.slice(0, d);
    const fx = await runner.forward(xi, 1);
    const fb = await runner.forward(baseline, 1);
    for (const samples of [1, 3, 25]) {
      const m = shapleySampling(runner, { baseline, featureMask: mask, samples, seed: 5 });
      const g = (await m.attribute(xi, seeds, K)).groups!.attributions;
      for (let k = 0; k < 10; k++) {
        let s = 0;
        for (let f = 0; f < 8; f++) s += g[k * 8 + f];
        expect(Math.abs(s - (fx[k] - fb[k])), `samples ${samples} class ${k}`).toBeLessThan(1e-4);
      }
    }
  });

  it('pixel features (784, streamed path) satisfy efficiency and are deterministic per seed', async () => {
    const xi = x.slice(0, d);
    const pix = Int32Array.from({ length: 784 }, (_, i) => i);
    const run = async (seed: number) =>
      (
        await shapleySampling(runner, { baseline, featureMask: pix, samples: 2, seed }).attribute(
          xi,
          seeds,
          K,
        )
      ).attributions;
    const a = await run(3);
    const b = await run(3);
    const c = await run(4);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    const fx = await runner.forward(xi, 1);
    const fb = await runner.forward(baseline, 1);
    for (let k = 0; k < 10; k++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += a[k * d + i];
      expect(Math.abs(s - (fx[k] - fb[k]))).toBeLessThan(1e-3);
    }
  });
});
