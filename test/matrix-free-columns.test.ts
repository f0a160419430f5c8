/**
 * The column stage of the matrix-free estimate (spectral/mf-columns.ts): its σ1 bound holds on
 * random matrices, and on a classifier whose logits spread over decades (as VGG16's do: a few near
 * 0 carry most of R's energy) it certifies σ1 and ‖R‖_F with fewer passes than the subspace
 * iteration, the exact values inside its intervals over many seeds, for every linear method.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { writeNpyFile } from '../src/io/files.js';
import { createMethod, type MethodSpec } from '../src/methods/factory.js';
import { Rng } from '../src/methods/random.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { estimateSpectrum } from '../src/spectral/matrix-free.js';
import { columnSplitUpper, type Probe, weightOrder } from '../src/spectral/mf-columns.js';
import { rademacher, redistributionOperator } from '../src/spectral/mf-operator.js';
import { normalCdf, studentTCdf, tQuantile } from '../src/spectral/mf-stats.js';
import { xspectra } from './helpers/cli.js';
import { rel } from './helpers/fixtures.js';
import { randomArray, twoLayerClassifier, twoLayerClassifierBytes } from './helpers/tiny-models.js';

/** top two singular values² of a d×k column-major block (power iteration on the k×k Gram) */
function topTwo(cols: Float64Array[], d: number): { s1: number; s2: number; u1: Float64Array } {
  const k = cols.length;
  const G = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => cols[i].reduce((a, v, q) => a + v * cols[j][q], 0)),
  );
  const power = (defl?: number[]) => {
    let v = Array.from({ length: k }, (_, i) => 1 + i / k);
    let lam = 0;
    for (let it = 0; it < 2000; it++) {
      if (defl) {
        const p = v.reduce((a, x, i) => a + x * defl[i], 0);
        v = v.map((x, i) => x - p * defl[i]);
      }
      const w = G.map((row) => row.reduce((a, x, j) => a + x * v[j], 0));
      lam = Math.sqrt(w.reduce((a, x) => a + x * x, 0));
      v = w.map((x) => x / (lam || 1));
    }
    return { lam, v };
  };
  const a = power();
  const b = k > 1 ? power(a.v) : { lam: 0 };
  const u1 = new Float64Array(d);
  cols.forEach((col, j) => {
    for (let q = 0; q < d; q++) u1[q] += (a.v[j] * col[q]) / Math.sqrt(a.lam);
  });
  return { s1: a.lam, s2: b.lam, u1 };
}

describe('matrix-free column stage', () => {
  it('σ1 lies in [θ1, columnSplitUpper] for exact β1, β on 100 random matrices and column splits', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 100; t++) {
      const d = 6 + Math.floor(rng.uniform() * 10);
      const c = 4 + Math.floor(rng.uniform() * 8);
      const k = 1 + Math.floor(rng.uniform() * (c - 1));
      // columns of very different norms, as R's
      const cols = Array.from({ length: c }, () => {
        const s = Math.exp(3 * rng.normal());
        return Float64Array.from({ length: d }, () => rng.normal() * s);
      });
      const all = topTwo(cols, d);
      const part = topTwo(cols.slice(0, k), d);
      const rest = cols.slice(k);
      const beta = rest.reduce((a, col) => a + col.reduce((b, v) => b + v * v, 0), 0);
      const beta1 = rest.reduce((a, col) => a + col.reduce((b, v, q) => b + v * part.u1[q], 0) ** 2, 0);
      const sigma1 = Math.sqrt(all.s1);
      expect(Math.sqrt(part.s1)).toBeLessThanOrEqual(sigma1 * (1 + 1e-9));
      expect(columnSplitUpper(part.s1, part.s2, beta1, beta)).toBeGreaterThanOrEqual(sigma1 * (1 - 1e-9));
      // and tight when the rest is small: its square within 2β of σ1²
      expect(columnSplitUpper(part.s1, part.s2, beta1, beta) ** 2).toBeLessThanOrEqual(
        all.s1 + 2 * beta + 1e-9,
      );
    }
  });

  it("widens the ‖R‖_F interval by Student's t: exact quantiles", () => {
    // t_{0.975, ν} from the tables, and the closed-form CDF at a point
    const table: [number, number][] = [
      [1, 12.7062],
      [2, 4.3027],
      [3, 3.1824],
      [5, 2.5706],
      [7, 2.3646],
      [30, 2.0423],
    ];
    for (const [nu, t] of table) expect(tQuantile(1.959964, nu)).toBeCloseTo(t, 3);
    expect(studentTCdf(2, 1)).toBeCloseTo(0.5 + Math.atan(2) / Math.PI, 12);
    expect(normalCdf(3)).toBeCloseTo(0.998650102, 7);
    // z = 3 with 4 probes (ν = 3): 9.22 standard errors, far wider than the normal 3
    expect(tQuantile(3, 3)).toBeCloseTo(9.219, 2);
    expect(tQuantile(3, 1e6)).toBeCloseTo(3, 3);
  });

  it('orders the active outputs by weight and sees no order in equal weights', () => {
    expect(weightOrder([0.5, 0, 2, 1, -3])).toEqual([4, 2, 3, 0]);
    expect(weightOrder([1, 1, 0, 1])).toEqual([]);
  });

  const rng = new Rng(7);
  const x = randomArray(rng, 64);
  // 120 positive logits evenly spaced on (0, 5) (the expected order statistics of uniform ones: VGG16's
  // 503 positive logits on a photo are about uniform on (0, 5.3)), shuffled, and 40 negative ones
  const targets = Array.from({ length: 160 }, (_, k) =>
    k < 120 ? (5 * (((k * 37) % 120) + 0.5)) / 120 : -1 - k / 40,
  );
  const model = twoLayerClassifier(rng, x, 48, targets);
  const runner = new ModelRunner(model, new NodeEngine());
  const SPECS: MethodSpec[] = [
    { method: 'gradient' },
    { method: 'gi' },
    { method: 'sg', noise: 0.1, samples: 3, seed: 5 },
    { method: 'ig', steps: 4, baseline: 'black' },
    { method: 'lrp', composite: 'gamma-all', gamma: 0.25 },
  ];
  for (const spec of SPECS) {
    it(`${spec.method}: certified by the column stage, the exact σ1 and ‖R‖_F inside its intervals over 20 seeds`, async () => {
      const m = createMethod(runner, spec);
      const exact = await analyze(m, x, { features: 'elements', inactive: 'zero' });
      const s1 = exact.scores.sigma1;
      const fro = exact.scores.sensitivity;
      let misses = 0;
      let columnPasses = 0;
      let subspacePasses = 0;
      for (let seed = 0; seed < 20; seed++) {
        const e = await estimateSpectrum(m, x, { seed, features: 'elements' });
        expect(e.stage, `seed ${seed}`).toBe('columns');
        expect(e.certified).toEqual({ sigma1: true, frobenius: true });
        // one forward-mode pass for β1 = ‖R_S̄ᵀu1‖²
        expect(e.forwardModeTangents).toBe(1);
        // σ1 ≥ ‖Rᵀu1‖ holds deterministically; the upper end at the ‖R‖_F interval's confidence
        expect(e.sigma1Bounds[0]).toBeLessThanOrEqual(s1 * (1 + 1e-6));
        if (s1 > e.sigma1Bounds[1] * (1 + 1e-6)) misses++;
        if (fro < e.frobeniusBounds[0] * (1 - 1e-6) || fro > e.frobeniusBounds[1] * (1 + 1e-6)) misses++;
        expect(rel(e.sigma1, s1), `seed ${seed}`).toBeLessThanOrEqual(1e-2);
        expect(rel(e.frobenius, fro), `seed ${seed}`).toBeLessThanOrEqual(2e-2);
        // the columns it computed are the largest-weight ones, i.e. the smallest positive logits
        const smallest = targets.filter((t) => t > 0).sort((a, b) => a - b)[e.columns.length - 1];
        for (const k of e.columns) expect(targets[k]).toBeLessThanOrEqual(smallest);
        columnPasses += e.backwardSeeds + e.forwardModeTangents;
        const s = await estimateSpectrum(m, x, { seed, features: 'elements', start: 'subspace' });
        subspacePasses += s.backwardSeeds + s.forwardModeTangents;
      }
      expect(misses).toBeLessThanOrEqual(1);
      expect(columnPasses).toBeLessThan(subspacePasses);
      expect(columnPasses / 20).toBeLessThan(40);
    }, 120_000);
  }

  it('takes the first probes before f is known (the run scales its seeds by its own outputs): bitwise the probes after a forward pass, one run less', async () => {
    for (const spec of [...SPECS.filter((s) => s.method !== 'sg' && s.method !== 'ig'), SPECS[2]]) {
      for (const inactive of ['zero', 'keep'] as const) {
        const m = createMethod(runner, spec);
        const forward = vi.spyOn(runner, 'forward');
        const backward = vi.spyOn(runner, 'backward');
        const folded: Probe[] = [];
        const op = await redistributionOperator(m, x, 'elements', inactive, {
          n: 4,
          rng: new Rng(3),
          into: folded,
        });
        const foldedCalls = { forward: forward.mock.calls.length, backward: backward.mock.calls.length };
        forward.mockRestore();
        backward.mockRestore();
        const plain = await redistributionOperator(m, x, 'elements', inactive);
        const eps = rademacher(new Rng(3), 4 * op.c);
        const reps = await plain.apply(eps, 4);
        const what = `${spec.method}, --inactive ${inactive}`;
        expect(op.outputs, what).toEqual(plain.outputs);
        expect(op.weight, what).toEqual(plain.weight);
        expect(
          folded.flatMap((p) => Array.from(p.eps)),
          what,
        ).toEqual(Array.from(eps));
        expect(
          folded.flatMap((p) => Array.from(p.reps)),
          what,
        ).toEqual(Array.from(reps));
        expect(op.counts().seeds, what).toBe(4);
        // one pass point: no forward pass (SmoothGrad's noisy copies: f from a forward pass first)
        expect(foldedCalls, what).toEqual(
          spec.method === 'sg' ? { forward: 1, backward: 1 } : { forward: 0, backward: 1 },
        );
      }
    }
  });

  it('is exact with zero-width intervals when the columns cover every active output', async () => {
    // 6 positive logits of 160: the first round computes all 6 active columns
    const few = twoLayerClassifier(
      new Rng(9),
      x,
      48,
      Array.from({ length: 160 }, (_, k) => (k < 6 ? 0.5 + k : -1 - k / 40)),
    );
    const r = new ModelRunner(few, new NodeEngine());
    const m = createMethod(r, { method: 'gradient' });
    const exact = await analyze(m, x, { features: 'elements', inactive: 'zero' });
    const e = await estimateSpectrum(m, x, { features: 'elements' });
    expect([e.stage, e.columns.length]).toEqual(['columns', 6]);
    expect(rel(e.sigma1, exact.scores.sigma1)).toBeLessThan(1e-6);
    expect(rel(e.frobenius, exact.scores.sensitivity)).toBeLessThan(1e-6);
    expect(rel(e.sigma1Bounds[1], e.sigma1Bounds[0])).toBeLessThan(1e-6);
    expect(rel(e.frobeniusBounds[1], e.frobeniusBounds[0])).toBeLessThan(1e-6);
    await r.release();
  });

  it('forms R when a round would reach half of its passes (20 outputs: 8 columns + 4 probes ≥ 10)', async () => {
    const small = twoLayerClassifier(
      new Rng(10),
      x,
      48,
      Array.from({ length: 20 }, (_, k) => 0.1 + k / 4),
    );
    const r = new ModelRunner(small, new NodeEngine());
    const m = createMethod(r, { method: 'gi' });
    const exact = await analyze(m, x, { features: 'elements', inactive: 'zero' });
    const e = await estimateSpectrum(m, x, { features: 'elements' });
    expect([e.stage, e.exact]).toEqual(['exact', true]);
    expect(rel(e.sigma1, exact.scores.sigma1)).toBeLessThan(1e-6);
    expect(rel(e.frobenius, exact.scores.sensitivity)).toBeLessThan(1e-6);
    await r.release();
  });

  it('analyze --matrix-free reports the stage and the columns (JSON and table)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xspectra-mf-columns-'));
    const onnx = join(dir, 'classifier.onnx');
    writeFileSync(onnx, twoLayerClassifierBytes(new Rng(7), x, 48, targets, [1, 8, 8]));
    const xnpy = join(dir, 'x.npy');
    writeNpyFile(xnpy, { shape: [1, 8, 8], data: x });
    const base = ['analyze', '--model', onnx, '--input', xnpy, '--method', 'gi', '--preprocess', 'none'];
    const json = xspectra([...base, '--matrix-free', '--json', '--seed', '3']);
    expect(json.stderr).toBe('');
    const e = JSON.parse(json.stdout).results[0].estimate;
    // 8 columns, then probes in batches of 4 until ‖R‖_F is certified, one tangent for β1
    expect([e.stage, e.columns.length, e.forwardModeTangents]).toEqual(['columns', 8, 1]);
    expect(e.backwardSeeds).toBe(8 + e.probesUsed);
    const ref = JSON.parse(xspectra([...base, '--json']).stdout);
    expect(e.sigma1Bounds[0]).toBeLessThanOrEqual(ref.scores.sigma1 * (1 + 1e-6));
    expect(e.sigma1Bounds[1]).toBeGreaterThanOrEqual(ref.scores.sigma1 * (1 - 1e-6));
    const sub = JSON.parse(xspectra([...base, '--matrix-free', '--json', '--mf-start', 'subspace']).stdout);
    expect(sub.results[0].estimate.stage).toBe('subspace');
    expect(xspectra([...base, '--matrix-free']).stdout).toMatch(/columns \(8\)/);
    expect(xspectra([...base, '--matrix-free', '--mf-start', 'rows']).stderr).toMatch(
      /--mf-start.*rows.*columns, subspace/,
    );
  }, 60_000);

  it('hands over to the subspace iteration when the weights say nothing (equal logits)', async () => {
    const flat = twoLayerClassifier(
      new Rng(8),
      x,
      48,
      Array.from({ length: 160 }, () => 2),
    );
    const r = new ModelRunner(flat, new NodeEngine());
    const m = createMethod(r, { method: 'gradient' });
    const e = await estimateSpectrum(m, x, { features: 'elements' });
    const s = await estimateSpectrum(m, x, { features: 'elements', start: 'subspace' });
    // logits equal up to float32 rounding: the first round's columns hold less than the rest, so
    // the column stage hands over at the cost of that round (8 columns + 4 probes) at most
    expect(e.columns).toEqual([]);
    expect(e.stage).not.toBe('columns');
    expect(e.backwardSeeds + e.forwardModeTangents).toBeLessThanOrEqual(
      s.backwardSeeds + s.forwardModeTangents + 8 + 4,
    );
    expect(rel(e.sigma1, s.sigma1)).toBeLessThan(1e-2);
    await expect(
      estimateSpectrum(createMethod(r, { method: 'gradient' }), x, { start: 'rows' as never }),
    ).rejects.toThrow(/matrix-free start "rows" is not one of columns, subspace/);
    await r.release();
  });
});
