/**
 * The ablation of the choices the paper leaves open (issue 9): SSM, stability and sensitivity of
 * LRP against γ for every composite × column choice × max-pool rule, on the same inputs. One
 * attribution of all outputs per (composite, max-pool rule, γ, input) serves every column choice
 * (columns.ts only rescales and selects columns), so the cost is that of the composites × rules × γ.
 * Rows go into the sweep store (method `lrp`, swept parameter `gamma`), keyed like any sweep row,
 * so a rerun resumes and rows shared with the main experiment are computed once.
 */
import { createMethod, type MethodSpec } from '../methods/factory.js';
import { oneHotSeeds } from '../methods/types.js';
import type { MaxPoolRule } from '../propagate/maxpool-average.js';
import type { ModelRunner } from '../runtime/runner.js';
import { analyzeMatrix } from '../spectral/analyze.js';
import { type ColumnChoice, columnsLabel, parseColumns } from '../spectral/columns.js';
import { matrixFromExplanation } from '../spectral/redistribution.js';
import { bootstrapOptimum } from './bootstrap.js';
import { type ResultRow, type ResultStore, tensorHash } from './store.js';
import { paramsKey, type SweepInput, type SweepPoint } from './sweep.js';

export interface AblationConfig {
  composites: string[];
  maxpoolRules: MaxPoolRule[];
  columns: string[];
  gammas: number[];
  preprocess: string;
  seed: number;
}

export function ablationConfig(quick: boolean, seed = 0): AblationConfig {
  return {
    composites: ['mnist-paper', 'gamma-all', 'epsilon-gamma-box'],
    maxpoolRules: ['wta', 'average'],
    columns: ['output', 'raw', 'sum', 'output+top:3'],
    gammas: quick ? [0, 0.1, 0.25, 1, 1000] : [0, 0.01, 0.1, 0.25, 0.5, 1, 10, 1000],
    preprocess: 'mnist',
    seed,
  };
}

/** One configuration of the ablation: a curve over γ */
export interface AblationVariant {
  composite: string;
  maxpoolRule: MaxPoolRule;
  columns: string;
}

export function ablationVariants(cfg: AblationConfig): AblationVariant[] {
  return cfg.composites.flatMap((composite) =>
    cfg.maxpoolRules.flatMap((maxpoolRule) =>
      cfg.columns.map((columns) => ({
        composite,
        maxpoolRule,
        columns: columnsLabel(parseColumns(columns)),
      })),
    ),
  );
}

export function ablationPoint(
  cfg: AblationConfig,
  v: Omit<AblationVariant, 'columns'>,
  gamma: number,
): SweepPoint {
  const spec: MethodSpec = {
    method: 'lrp',
    preprocess: cfg.preprocess,
    composite: v.composite,
    gamma,
    maxpoolRule: v.maxpoolRule,
    seed: cfg.seed,
  };
  return { spec, paramName: 'gamma', paramValue: gamma };
}

/** The store key (params) of one variant at one γ */
export function ablationParams(cfg: AblationConfig, v: AblationVariant, gamma: number): string {
  return paramsKey(ablationPoint(cfg, v, gamma), 'pixels', 'zero', parseColumns(v.columns));
}

/** Every store key (params) the ablation writes */
export function ablationParamsSet(cfg: AblationConfig): Set<string> {
  return new Set(ablationVariants(cfg).flatMap((v) => cfg.gammas.map((g) => ablationParams(cfg, v, g))));
}

export async function runAblation(
  runner: ModelRunner,
  inputs: SweepInput[],
  cfg: AblationConfig,
  store: ResultStore,
  onProgress?: (done: number, total: number, skipped: number) => void,
): Promise<{ computed: number; skipped: number }> {
  const modelHash = runner.model.hash;
  const choices: ColumnChoice[] = cfg.columns.map(parseColumns);
  const c = runner.outputSize;
  const all = Array.from({ length: c }, (_, k) => k);
  const hashes = inputs.map((inp) => tensorHash(inp.x));
  const total = cfg.composites.length * cfg.maxpoolRules.length * cfg.gammas.length * inputs.length;
  let done = 0;
  let computed = 0;
  let skipped = 0;
  for (const composite of cfg.composites)
    for (const maxpoolRule of cfg.maxpoolRules)
      for (const gamma of cfg.gammas) {
        const point = ablationPoint(cfg, { composite, maxpoolRule }, gamma);
        const method = createMethod(runner, point.spec);
        const keys = choices.map((ch) => paramsKey(point, 'pixels', 'zero', ch));
        for (const [i, inp] of inputs.entries()) {
          const inputHash = hashes[i];
          const missing = keys
            .map((params, j) => ({ params, choice: choices[j] }))
            .filter((m) => !store.has(modelHash, inputHash, 'lrp', m.params, cfg.seed));
          if (missing.length > 0) {
            const outputs = Array.from(await runner.forward(inp.x, 1));
            const ex = await method.attribute(inp.x, oneHotSeeds(c).seeds, c);
            const rows: ResultRow[] = [];
            for (const m of missing) {
              const matrix = matrixFromExplanation(method, ex, all, outputs, { columns: m.choice });
              const a = await analyzeMatrix(matrix);
              rows.push({
                modelHash,
                inputHash,
                inputId: inp.id,
                method: 'lrp',
                params: m.params,
                seed: cfg.seed,
                paramName: 'gamma',
                paramValue: gamma,
                label: inp.label ?? null,
                predicted: a.predicted,
                ...a.scores,
                pfAuc: null,
                pfAucNorm: null,
                entropy: null,
                singularValues: JSON.stringify(a.svd.singularValues),
              });
            }
            store.insertAll(rows);
            computed += rows.length;
            skipped += keys.length - missing.length;
          } else skipped += keys.length;
          done++;
          onProgress?.(done, total, skipped);
        }
      }
  return { computed, skipped };
}

export interface AblationCurve extends AblationVariant {
  points: {
    gamma: number;
    n: number;
    mean: { ssm: number; stability: number; sensitivity: number };
    se: { ssm: number; stability: number; sensitivity: number };
  }[];
  /** γ of the largest mean SSM */
  argmaxSsm: number;
  /** is that maximum strictly inside the γ grid? */
  interior: boolean;
  /** share of bootstrap resamples of the inputs whose SSM maximum is interior (bootstrap.ts) */
  interiorShare: number;
}

const SPECTRAL = ['ssm', 'stability', 'sensitivity'] as const;

export function ablationCurves(rows: ResultRow[], cfg: AblationConfig): AblationCurve[] {
  const byParams = new Map<string, ResultRow[]>();
  for (const r of rows) byParams.set(r.params, [...(byParams.get(r.params) ?? []), r]);
  return ablationVariants(cfg).map((v) => {
    const points = cfg.gammas
      .map((gamma) => {
        const rs = byParams.get(ablationParams(cfg, v, gamma)) ?? [];
        const n = rs.length;
        const mean = { ssm: 0, stability: 0, sensitivity: 0 };
        const se = { ssm: 0, stability: 0, sensitivity: 0 };
        for (const s of SPECTRAL) {
          const vals = rs.map((r) => r[s]);
          const m = vals.reduce((a, b) => a + b, 0) / Math.max(n, 1);
          const sd = n > 1 ? Math.sqrt(vals.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1)) : 0;
          mean[s] = m;
          se[s] = sd / Math.sqrt(Math.max(n, 1));
        }
        return { gamma, n, mean, se };
      })
      .filter((p) => p.n > 0);
    const best = points.reduce((b, p, i) => (p.mean.ssm > points[b].mean.ssm ? i : b), 0);
    const boot = bootstrapOptimum(
      cfg.gammas.flatMap((g) => byParams.get(ablationParams(cfg, v, g)) ?? []),
      'lrp',
      'ssm',
      { seed: cfg.seed },
    );
    return {
      ...v,
      points,
      argmaxSsm: points[best]?.gamma ?? Number.NaN,
      interior: best > 0 && best < points.length - 1,
      interiorShare: boot?.interiorShare ?? Number.NaN,
    };
  });
}
