/** The paired bootstrap of an optimum: interior vs edge optima, intervals, determinism. */
import { describe, expect, it } from 'vitest';
import { bootstrapOptimum } from '../src/experiments/bootstrap.js';
import type { ResultRow } from '../src/experiments/store.js';
import { Rng } from '../src/methods/random.js';

function rows(
  score: (g: number, noise: number) => number,
  n: number,
  grid: number[],
  seed: number,
): ResultRow[] {
  const rng = new Rng(seed);
  const out: ResultRow[] = [];
  for (let i = 0; i < n; i++) {
    const offset = rng.normal(); // per-input level: the paired design must remove it
    for (const g of grid)
      out.push({
        inputId: `x${i}`,
        method: 'lrp',
        paramValue: g,
        ssm: score(g, rng.normal()) + offset,
      } as ResultRow);
  }
  return out;
}

describe('bootstrapOptimum', () => {
  const grid = [0, 0.1, 0.25, 1, 10];
  it('finds a clear interior maximum and a tight interval around it', () => {
    const r = rows((g, e) => -((Math.log10(g + 1e-3) - Math.log10(0.25)) ** 2) + 0.05 * e, 40, grid, 1);
    const b = bootstrapOptimum(r, 'lrp', 'ssm', { resamples: 500, seed: 3 })!;
    expect(b.best).toBe(0.25);
    expect(b.interior).toBe(true);
    expect(b.interiorShare).toBe(1);
    expect(b.ci).toEqual([0.25, 0.25]);
    expect(b.n).toBe(40);
    // mean and s.e. at the optimum are those of the column
    const col = r.filter((x) => x.paramValue === 0.25).map((x) => x.ssm);
    const m = col.reduce((a, v) => a + v, 0) / col.length;
    expect(b.mean).toBeCloseTo(m, 12);
  });
  it('reports an edge optimum for a monotone score and a wide interval when differences are noise', () => {
    const mono = bootstrapOptimum(
      rows((g, e) => -g + 0.01 * e, 30, grid, 2),
      'lrp',
      'ssm',
    )!;
    expect(mono.best).toBe(0);
    expect(mono.interior).toBe(false);
    expect(mono.interiorShare).toBe(0);
    const flat = bootstrapOptimum(
      rows((_g, e) => e, 30, grid, 4),
      'lrp',
      'ssm',
      { resamples: 400 },
    )!;
    expect(flat.interiorShare).toBeGreaterThan(0.2);
    expect(flat.interiorShare).toBeLessThan(1);
    expect(grid.indexOf(flat.ci[1]) - grid.indexOf(flat.ci[0])).toBeGreaterThanOrEqual(2);
  });
  it('is deterministic for a seed, minimises PF-AUC, and drops inputs without every grid value', () => {
    const r = rows((g, e) => g + 0.3 * e, 25, grid, 5).map((x) => ({ ...x, pfAuc: x.ssm }));
    const a = bootstrapOptimum(r, 'lrp', 'pfAuc', { seed: 9 })!;
    const b = bootstrapOptimum(r, 'lrp', 'pfAuc', { seed: 9 })!;
    expect(a).toEqual(b);
    expect(a.best).toBe(0); // minimised
    const partial = bootstrapOptimum(r.slice(1), 'lrp', 'pfAuc', { seed: 9 })!;
    expect(partial.n).toBe(24);
  });
});
