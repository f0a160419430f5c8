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
import { type ResultRow, type ResultStore, type RowKey, tensorHash } from './store.js';

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

/**
 * Canonical JSON of everything that determines a row's numbers (except model, input and seed):
 * keys sorted, numbers rounded to 10 significant digits, tensors (noise, baseline, feature mask)
 * by the sha256 of their bytes, so two different noise files never share a row; R's column choice.
 */
export function paramsKey(
  point: SweepPoint,
  features: string,
  inactive: string,
  columns: ColumnChoice = DEFAULT_COLUMNS,
): string {
  const rec: Record<string, unknown> = { features, inactive, columns: columnsLabel(columns) };
  for (const [k, v] of Object.entries(point.spec)) {
    if (v === undefined || typeof v === 'function' || k === 'seed') continue;
    rec[k] = ArrayBuffer.isView(v) ? `sha256:${tensorHash(v)}` : typeof v === 'number' ? keyNumber(v) : v;
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
    const col = m.store.column(j);
    for (let i = 0; i < m.d; i++) {
      h[i] = col[i] * m.outputs[k];
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

/** Seeds are unsigned 32-bit integers (1.5 or 2^32 + 1 would silently mean another seed) */
function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    throw new Error(`seed ${seed}: expected an integer from 0 to 2^32 - 1`);
  return seed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SweepResult {
  computed: number;
  skipped: number;
  /** rows stored earlier whose missing metrics this run computed */
  completed: number;
  /** rows another live sweep was computing; waited for */
  waited: number;
}

export async function runSweep(cfg: SweepConfig): Promise<SweepResult> {
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
  const hashes = cfg.inputs.map((inp) => tensorHash(inp.x));
  const res: SweepResult = { computed: 0, skipped: 0, completed: 0, waited: 0 };
  let done = 0;
  const progress = () => cfg.onProgress?.(done, total, res.skipped);
  const work: { point: SweepPoint; method: Method; params: string; seed: number; i: number }[] = [];
  let pair = -1;
  for (const point of cfg.points) {
    const params = paramsKey(point, features, inactive, cfg.columns);
    const seed = checkSeed(point.spec.seed ?? 0);
    const method = createMethod(cfg.runner, point.spec);
    for (let i = 0; i < cfg.inputs.length; i++)
      if (mine(++pair)) work.push({ point, method, params, seed, i });
  }
  // Rows a concurrent sweep holds are retried after the rest, until stored or abandoned.
  let queue = work;
  let firstPass = true;
  while (queue.length > 0) {
    const busy: typeof work = [];
    for (const w of queue) {
      const inp = cfg.inputs[w.i];
      const key: RowKey = {
        modelHash,
        inputHash: hashes[w.i],
        method: w.method.name,
        params: w.params,
        seed: w.seed,
      };
      const claim = cfg.store.claim(key);
      if (claim === 'busy') {
        busy.push(w);
        continue;
      }
      if (claim === 'done') {
        const missing = cfg.store.missingMetrics(key, cfg.metrics);
        if (missing.length === 0) {
          if (firstPass) res.skipped++;
          else res.waited++;
          done++;
          progress();
          continue;
        }
        if (cfg.store.claim({ ...key, params: `${key.params}#metrics` }) === 'busy') {
          busy.push(w);
          continue;
        }
        try {
          const a = await analyze(w.method, inp.x, { features, inactive, columns: cfg.columns });
          const m = await rowMetrics(cfg, a, w.method, inp.x, {
            pf: missing.includes('pf'),
            entropy: missing.includes('entropy'),
          });
          a.matrix.store.release();
          cfg.store.updateMetrics(key, m);
        } finally {
          cfg.store.releaseClaim({ ...key, params: `${key.params}#metrics` });
        }
        res.completed++;
        done++;
        progress();
        continue;
      }
      try {
        const a = await analyze(w.method, inp.x, { features, inactive, columns: cfg.columns });
        const m = await rowMetrics(cfg, a, w.method, inp.x, cfg.metrics);
        a.matrix.store.release();
        const row: ResultRow = {
          ...key,
          inputId: inp.id,
          paramName: w.point.paramName,
          paramValue: w.point.paramValue,
          label: inp.label ?? null,
          predicted: a.predicted,
          ...a.scores,
          pfAuc: m.pfAuc ?? null,
          pfAucNorm: m.pfAucNorm ?? null,
          entropy: m.entropy ?? null,
          singularValues: JSON.stringify(a.svd.singularValues),
        };
        if (cfg.store.insert(row)) res.computed++;
        else res.skipped++;
      } catch (e) {
        cfg.store.releaseClaim(key);
        throw e;
      }
      done++;
      progress();
    }
    if (busy.length > 0) await sleep(200);
    queue = busy;
    firstPass = false;
  }
  return res;
}

/** PF-AUC and entropy of the predicted class's heat map, as requested */
async function rowMetrics(
  cfg: SweepConfig,
  a: Analysis,
  method: Method,
  x: Float32Array,
  want: { pf: boolean; entropy: boolean },
): Promise<Partial<Pick<ResultRow, 'pfAuc' | 'pfAucNorm' | 'entropy'>>> {
  if (!want.pf && !want.entropy) return {};
  const h = await predictedHeatmap(a, method, x);
  const out: Partial<Pick<ResultRow, 'pfAuc' | 'pfAucNorm' | 'entropy'>> = {};
  if (want.entropy) out.entropy = entropy(h);
  if (want.pf) {
    const pf = await pixelFlipping(cfg.runner, x, h, { preset: presetOf(cfg.preset), target: a.predicted });
    out.pfAuc = pf.auc;
    out.pfAucNorm = pf.aucNorm;
  }
  return out;
}
