/**
 * Is an optimum really where the means put it? A paired bootstrap over the inputs: every
 * parameter value of a sweep is scored on the same inputs, so resampling inputs (with
 * replacement, seeded) and taking the optimum of the resampled means gives the distribution of
 * the optimal parameter. Reported: the optimum of the full means, a 95 % percentile interval of
 * the optimal parameter (in grid order), and how often the optimum lies strictly inside the grid.
 */
import { Rng } from '../methods/random.js';
import { MAXIMISE, type ScoreName } from './aggregate.js';
import type { ResultRow } from './store.js';

export interface BootstrapOptimum {
  method: string;
  score: ScoreName;
  /** the parameter grid in increasing order (only values every used input has) */
  grid: number[];
  /** inputs used (those with a row at every grid value) */
  n: number;
  /** optimum of the means over all inputs */
  best: number;
  mean: number;
  se: number;
  /** 2.5 % and 97.5 % percentiles of the bootstrap optimum */
  ci: [number, number];
  /** share of resamples whose optimum is strictly inside the grid (not its first or last value) */
  interiorShare: number;
  /** is the full-data optimum strictly inside the grid? */
  interior: boolean;
  resamples: number;
  seed: number;
}

export function bootstrapOptimum(
  rows: ResultRow[],
  method: string,
  score: ScoreName,
  opts: { resamples?: number; seed?: number } = {},
): BootstrapOptimum | undefined {
  const B = opts.resamples ?? 1000;
  const seed = opts.seed ?? 0;
  const mine = rows.filter((r) => r.method === method && r[score] !== null && r[score] !== undefined);
  const grid = [...new Set(mine.map((r) => r.paramValue))].sort((a, b) => a - b);
  if (grid.length < 2) return undefined;
  const byInput = new Map<string, Map<number, number>>();
  for (const r of mine) {
    const m = byInput.get(r.inputId) ?? new Map<number, number>();
    m.set(r.paramValue, r[score] as number);
    byInput.set(r.inputId, m);
  }
  // inputs scored at every grid value (paired design)
  const table = [...byInput.keys()]
    .sort()
    .map((id) => byInput.get(id)!)
    .filter((m) => grid.every((g) => m.has(g)))
    .map((m) => grid.map((g) => m.get(g)!));
  const n = table.length;
  if (n === 0) return undefined;
  const sign = MAXIMISE[score] === false ? -1 : 1;
  const argBest = (means: number[]) => means.reduce((b, v, i) => (sign * v > sign * means[b] ? i : b), 0);
  const meansOf = (idx: ArrayLike<number>) =>
    grid.map((_, j) => {
      let s = 0;
      for (let t = 0; t < idx.length; t++) s += table[idx[t]][j];
      return s / idx.length;
    });
  const all = Array.from({ length: n }, (_, i) => i);
  const full = meansOf(all);
  const jBest = argBest(full);
  const col = table.map((r) => r[jBest]);
  const sd = n > 1 ? Math.sqrt(col.reduce((a, v) => a + (v - full[jBest]) ** 2, 0) / (n - 1)) : 0;
  const rng = new Rng(seed);
  const picks: number[] = [];
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < n; t++) idx[t] = Math.floor(rng.uniform() * n);
    picks.push(argBest(meansOf(idx)));
  }
  picks.sort((a, b) => a - b);
  const q = (p: number) => picks[Math.min(B - 1, Math.max(0, Math.floor(p * B)))];
  const inside = (j: number) => j > 0 && j < grid.length - 1;
  return {
    method,
    score,
    grid,
    n,
    best: grid[jBest],
    mean: full[jBest],
    se: sd / Math.sqrt(n),
    ci: [grid[q(0.025)], grid[q(0.975)]],
    interiorShare: picks.filter(inside).length / B,
    interior: inside(jBest),
    resamples: B,
    seed,
  };
}
