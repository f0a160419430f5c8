/**
 * Aggregation of sweep rows: mean and standard error per (method, parameter) and the parameter
 * that optimises each score. Directions: SSM, stability and sensitivity are maximised (the paper's
 * "higher is better"); PF-AUC and entropy are minimised.
 */
import type { ResultRow } from './store.js';

export const SCORES = [
  'ssm',
  'stability',
  'sensitivity',
  'sigma1',
  'pfAuc',
  'pfAucNorm',
  'entropy',
  'effectiveRank',
] as const;
export type ScoreName = (typeof SCORES)[number];
export const MAXIMISE: Partial<Record<ScoreName, boolean>> = {
  ssm: true,
  stability: true,
  sensitivity: true,
  pfAuc: false,
  pfAucNorm: false,
  entropy: false,
};

export interface Aggregate {
  method: string;
  paramName: string;
  paramValue: number;
  n: number;
  mean: Partial<Record<ScoreName, number>>;
  se: Partial<Record<ScoreName, number>>;
}

export function aggregate(rows: ResultRow[]): Aggregate[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = `${r.method}\u0000${r.paramName}\u0000${r.paramValue}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const mean: Aggregate['mean'] = {};
    const se: Aggregate['se'] = {};
    for (const s of SCORES) {
      const vals = g.map((r) => r[s]).filter((v): v is number => v !== null && v !== undefined);
      if (vals.length === 0) continue;
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      const sd =
        vals.length > 1 ? Math.sqrt(vals.reduce((a, v) => a + (v - m) ** 2, 0) / (vals.length - 1)) : 0;
      mean[s] = m;
      se[s] = sd / Math.sqrt(vals.length);
    }
    return {
      method: g[0].method,
      paramName: g[0].paramName,
      paramValue: g[0].paramValue,
      n: g.length,
      mean,
      se,
    };
  });
}

/** Parameter value optimising a score within one method */
export function optimum(aggs: Aggregate[], method: string, score: ScoreName): Aggregate | undefined {
  const cand = aggs.filter((a) => a.method === method && a.mean[score] !== undefined);
  if (cand.length === 0) return undefined;
  const sign = MAXIMISE[score] === false ? -1 : 1;
  return cand.reduce((best, a) => (sign * a.mean[score]! > sign * best.mean[score]! ? a : best));
}
