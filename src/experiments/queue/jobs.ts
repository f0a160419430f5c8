/**
 * Node-only: the jobs of a queued sweep. A job names the model and the inputs by location plus
 * content hash (sha256), carries the method specification and the keys of the rows it must return,
 * so a worker on another machine can compute exactly the rows the single-process sweep would and
 * refuse work on files that are not the coordinator's.
 */
import { createHash } from 'node:crypto';
import { createMethod, type MethodSpec } from '../../methods/factory.js';
import type { ModelRunner } from '../../runtime/runner.js';
import { type ColumnChoice, columnsLabel, DEFAULT_COLUMNS, parseColumns } from '../../spectral/columns.js';
import type { FeatureMode, InactivePolicy } from '../../spectral/redistribution.js';
import { type ResultStore, type RowKey, tensorHash } from '../store.js';
import { paramsKey, type SweepInput, type SweepPoint } from '../sweep.js';

export type { RowKey };

export interface JobRow {
  /** position of the input in the resolved data set */
  index: number;
  id: string;
  /** sha256 of the input tensor (float32 bytes) the coordinator saw */
  sha256: string;
  label: number | null;
  key: RowKey;
}

export interface SweepJobData {
  schema: 'xspectra.job/1';
  model: {
    path: string;
    sha256: string;
    outputLayer?: string;
    inputShape?: number[];
    memoryBudget?: number;
  };
  data: { spec: string; preset: string };
  features: FeatureMode;
  inactive: InactivePolicy;
  /** R's column choice (columns.ts label) */
  columns: string;
  metrics: { pf: boolean; entropy: boolean };
  /** toWire of { spec: encodeSpec(spec), paramName, paramValue } (γ may be ∞) */
  point: string;
  rows: JobRow[];
}

export interface PlannedJob {
  id: string;
  data: SweepJobData;
}

export interface SweepPlan {
  /** queue name: derived from the keys of every row of the grid, so a rerun finds the same queue */
  name: string;
  jobs: PlannedJob[];
  total: number;
  stored: number;
  /** keys (keyString) of the rows not yet in the store */
  missing: Set<string>;
}

/** The column choice a job asks for */
export function jobColumns(data: SweepJobData): ColumnChoice {
  return parseColumns(data.columns ?? 'output');
}

export function sha256(bytes: ArrayBufferView | string): string {
  const h = createHash('sha256');
  if (typeof bytes === 'string') h.update(bytes);
  else h.update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return h.digest('hex');
}

export function keyString(k: RowKey): string {
  return JSON.stringify([k.modelHash, k.inputHash, k.method, k.params, k.seed]);
}

/** JSON that keeps ±Infinity and NaN (γ = ∞ is a grid point; plain JSON would make it null) */
export function toWire(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'number' && !Number.isFinite(x) ? { $num: String(x) } : x,
  );
}

export function fromWire<T>(text: string): T {
  return JSON.parse(text, (_k, x) =>
    x &&
    typeof x === 'object' &&
    !Array.isArray(x) &&
    Object.keys(x).length === 1 &&
    typeof x.$num === 'string'
      ? Number(x.$num)
      : x,
  ) as T;
}

export interface WirePoint {
  spec: Record<string, unknown>;
  paramName: string;
  paramValue: number;
}

/** Method specs travel as JSON: typed arrays as base64, callbacks (progress bars) dropped */
export function encodeSpec(spec: MethodSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v === undefined || typeof v === 'function') continue;
    if (v instanceof Float32Array || v instanceof Int32Array)
      out[k] = {
        [v instanceof Float32Array ? '$f32' : '$i32']: Buffer.from(
          v.buffer,
          v.byteOffset,
          v.byteLength,
        ).toString('base64'),
      };
    else out[k] = v;
  }
  return out;
}

export function decodeSpec(enc: Record<string, unknown>): MethodSpec {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(enc)) {
    const o = v as Record<string, string> | null;
    if (o && typeof o === 'object' && !Array.isArray(o) && ('$f32' in o || '$i32' in o)) {
      const b = Buffer.from(o.$f32 ?? o.$i32, 'base64');
      const copy = new Uint8Array(b).buffer;
      out[k] = '$f32' in o ? new Float32Array(copy) : new Int32Array(copy);
    } else out[k] = v;
  }
  return out as unknown as MethodSpec;
}

export interface PlanConfig {
  runner: ModelRunner;
  model: SweepJobData['model'];
  data: SweepJobData['data'];
  inputs: SweepInput[];
  points: SweepPoint[];
  store: ResultStore;
  features: FeatureMode;
  inactive: InactivePolicy;
  columns?: ColumnChoice;
  metrics: { pf: boolean; entropy: boolean };
  /** rows per job (consecutive inputs of one grid point) */
  batch: number;
  name?: string;
}

/** The jobs for the rows of the grid that the store lacks (the same keys runSweep checks) */
export function planSweep(cfg: PlanConfig): SweepPlan {
  if (!(Number.isInteger(cfg.batch) && cfg.batch >= 1))
    throw new Error(`--batch expects a positive integer, got ${cfg.batch}`);
  const hashes = cfg.inputs.map((inp) => tensorHash(inp.x));
  const columns = cfg.columns ?? DEFAULT_COLUMNS;
  const all: string[] = [];
  const jobs: PlannedJob[] = [];
  const missing = new Set<string>();
  let stored = 0;
  for (const point of cfg.points) {
    const params = paramsKey(point, cfg.features, cfg.inactive, columns);
    const seed = point.spec.seed ?? 0;
    const method = createMethod(cfg.runner, point.spec).name;
    let pending: JobRow[] = [];
    const flush = () => {
      if (pending.length === 0) return;
      const id = `row-${sha256(pending.map((r) => keyString(r.key)).join('\n')).slice(0, 32)}`;
      jobs.push({
        id,
        data: {
          schema: 'xspectra.job/1',
          model: cfg.model,
          data: cfg.data,
          features: cfg.features,
          inactive: cfg.inactive,
          columns: columnsLabel(columns),
          metrics: cfg.metrics,
          point: toWire({
            spec: encodeSpec(point.spec),
            paramName: point.paramName,
            paramValue: point.paramValue,
          }),
          rows: pending,
        },
      });
      pending = [];
    };
    for (const [index, inp] of cfg.inputs.entries()) {
      const key: RowKey = { modelHash: cfg.model.sha256, inputHash: hashes[index], method, params, seed };
      all.push(keyString(key));
      if (cfg.store.has(key.modelHash, key.inputHash, key.method, key.params, key.seed)) {
        stored++;
        continue;
      }
      missing.add(keyString(key));
      pending.push({ index, id: inp.id, sha256: hashes[index], label: inp.label ?? null, key });
      if (pending.length === cfg.batch) flush();
    }
    flush();
  }
  const name = cfg.name ?? `xspectra-${sha256(all.join('\n')).slice(0, 16)}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw new Error(`--queue-name "${name}": use letters, digits, '.', '_' and '-' only`);
  return { name, jobs, total: all.length, stored, missing };
}
