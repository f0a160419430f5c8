/**
 * Sweeps: a grid over one method parameter × a data set, computing per (input, parameter) the
 * spectral scores, PF-AUC and entropy, stored row by row (resumable, see store.ts).
 */
import { createMethod, type MethodSpec } from '../methods/factory.js';
import { preset as presetOf } from '../methods/presets.js';
import type { Method } from '../methods/types.js';
import { oneHotSeeds } from '../methods/types.js';
import { channelSum, entropy } from '../metrics/entropy.js';
import { pixelFlipping } from '../metrics/pixel-flipping.js';
import type { ModelRunner } from '../runtime/runner.js';
import { type Analysis, analyze } from '../spectral/analyze.js';
import { type ColumnChoice, columnsLabel, DEFAULT_COLUMNS } from '../spectral/columns.js';
import type { FeatureMode, InactivePolicy } from '../spectral/redistribution.js';
import { keyNumber } from './grid.js';
import type { ResultRow, ResultStore } from './store.js';

export interface SweepInput {
  id: string;
  x: Float32Array;
  label?: number;
}

export interface SweepPoint {
  spec: MethodSpec;
  paramName: string;
  paramValue: number;
}

export interface SweepConfig {
  runner: ModelRunner;
  inputs: SweepInput[];
  points: SweepPoint[];
  store: ResultStore;
  metrics: { pf: boolean; entropy: boolean };
  features?: FeatureMode;
  inactive?: InactivePolicy;
  /** R's columns (default: every output, E_k / f_k) */
  columns?: ColumnChoice;
  preset: string;
  onProgress?: (done: number, total: number, skipped: number) => void;
  /** scale-out: this process takes the (parameter, input) pairs with index ≡ shard.index mod shard.count */
  shard?: { index: number; count: number };
}

/** Canonical JSON of everything that determines a row's numbers (except model, input and seed) */
export function paramsKey(
  point: SweepPoint,
  features: string,
  inactive: string,
  columns: ColumnChoice = DEFAULT_COLUMNS,
): string {
  const rec: Record<string, unknown> = { features, inactive, columns: columnsLabel(columns) };
  for (const [k, v] of Object.entries(point.spec)) {
    if (v === undefined || typeof v === 'function' || k === 'seed') continue;
    rec[k] = ArrayBuffer.isView(v)
      ? `<tensor ${(v as Float32Array).length}>`
      : typeof v === 'number'
        ? keyNumber(v)
        : v;
  }
  return JSON.stringify(
    Object.fromEntries(Object.entries(rec).sort(([a], [b]) => a.localeCompare(b))),
    (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
  );
}

/** Heat map (pixels) of the predicted class: R·(f_k e_k), or a direct attribution if its column is zero */
export async function predictedHeatmap(a: Analysis, method: Method, x: Float32Array): Promise<Float64Array> {
  const m = a.matrix;
  const k = a.predicted;
  const j = m.columns.indexOf(k);
  const h = new Float64Array(m.d);
  let nonzero = false;
  if (j >= 0) {
    for (let i = 0; i < m.d; i++) {
      h[i] = m.R[i * m.c + j] * m.outputs[k];
      nonzero ||= h[i] !== 0;
    }
  }
  if (!nonzero) {
    const { seeds, K } = oneHotSeeds(method.runner.outputSize, [k]);
    const ex = await method.attribute(x, seeds, K);
    const shape = method.runner.model.inputShape;
    return channelSum(ex.attributions, shape.length === 3 ? shape[0] : 1);
  }
  if (m.features === 'groups' && m.groupMask) return Float64Array.from(m.groupMask, (g) => h[g]);
  if (m.features === 'elements') return channelSum(h, m.featureShape[0]);
  return h;
}

export async function runSweep(cfg: SweepConfig): Promise<{ computed: number; skipped: number }> {
  const features = cfg.features ?? 'pixels';
  const inactive = cfg.inactive ?? 'zero';
  const modelHash = cfg.runner.model.hash;
  const shard = cfg.shard ?? { index: 0, count: 1 };
  if (
    !(
      Number.isInteger(shard.count) &&
      shard.count >= 1 &&
      Number.isInteger(shard.index) &&
      shard.index >= 0 &&
      shard.index < shard.count
    )
  ) {
    throw new Error(`shard ${shard.index}/${shard.count}: need 0 ≤ index < count`);
  }
  const mine = (pair: number) => pair % shard.count === shard.index;
  const pairs = cfg.points.length * cfg.inputs.length;
  const total = Array.from({ length: pairs }, (_, i) => i).filter(mine).length;
  let pair = -1;
  let done = 0;
  let skipped = 0;
  let computed = 0;
  for (const point of cfg.points) {
    const params = paramsKey(point, features, inactive, cfg.columns);
    const seed = point.spec.seed ?? 0;
    const method = createMethod(cfg.runner, point.spec);
    for (const inp of cfg.inputs) {
      pair++;
      if (!mine(pair)) continue;
      if (cfg.store.has(modelHash, inp.id, method.name, params, seed)) {
        skipped++;
        done++;
        cfg.onProgress?.(done, total, skipped);
        continue;
      }
      const a = await analyze(method, inp.x, { features, inactive, columns: cfg.columns });
      let pf: { auc: number; aucNorm: number } | undefined;
      let ent: number | undefined;
      if (cfg.metrics.pf || cfg.metrics.entropy) {
        const h = await predictedHeatmap(a, method, inp.x);
        if (cfg.metrics.entropy) ent = entropy(h);
        if (cfg.metrics.pf)
          pf = await pixelFlipping(cfg.runner, inp.x, h, {
            preset: presetOf(cfg.preset),
            target: a.predicted,
          });
      }
      const row: ResultRow = {
        modelHash,
        inputId: inp.id,
        method: method.name,
        params,
        seed,
        paramName: point.paramName,
        paramValue: point.paramValue,
        label: inp.label ?? null,
        predicted: a.predicted,
        ...a.scores,
        pfAuc: pf?.auc ?? null,
        pfAucNorm: pf?.aucNorm ?? null,
        entropy: ent ?? null,
        singularValues: JSON.stringify(a.svd.singularValues),
      };
      cfg.store.insert(row);
      computed++;
      done++;
      cfg.onProgress?.(done, total, skipped);
    }
  }
  return { computed, skipped };
}
