/**
 * The redistribution matrix R ∈ R^{d×c} (DESIGN §1.2): column k is E_k(x)/f_k(x) (LRP: the
 * relevance of the one-hot seed e_k directly). Features are pixels (channel-summed) or elements;
 * Shapley over feature groups gives one row per group. Inactive outputs follow a policy; other
 * column choices (raw E_k, E_k / Σ_i E_ik, top-N outputs) are in columns.ts.
 */
import { type Explanation, type Method, oneHotSeeds } from '../methods/types.js';
import { rowBytes } from '../runtime/memory.js';
import {
  type ColumnChoice,
  columnsLabel,
  DEFAULT_COLUMNS,
  rawColumnScale,
  selectOutputs,
} from './columns.js';
import { columnSumsOf, getDefaultSpill, memoryStore, type RStore, type Spill } from './r-store.js';

export type FeatureMode = 'pixels' | 'elements';
export type InactivePolicy = 'zero' | 'drop' | 'keep';

export interface RedistributionOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
  /** which outputs become columns and how they are normalised (default: all, E_k / f_k) */
  columns?: ColumnChoice;
  /** refuse to build R (float64, plus one chunk of attributions) above this many bytes, wherever it goes (default 8 GiB) */
  maxBytes?: number;
  /**
   * where R goes (r-store.ts): 'auto' (default) holds it in memory when it fits what the runner's
   * memory budget leaves next to one run, else spills it with `spill`; 'memory' or 'disk' force it
   */
  placement?: 'auto' | 'memory' | 'disk';
  /** makes the store for R outside memory (default: r-store.ts `getDefaultSpill`, a file on Node) */
  spill?: Spill;
}

export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

export interface RedistributionMatrix {
  /** row-major d×c: R[i*c + k] (in memory only: reading it throws when R is on disk; see `store`) */
  R: Float64Array;
  /** R wherever it is (memory or a file): read it in stripes; `release()` when done with it */
  store: RStore;
  d: number;
  c: number;
  /** output index of each column */
  columns: number[];
  /** f(x) for every output */
  outputs: number[];
  /** Σ_i R_ik per column (1 for conservative methods) */
  conservation: number[];
  /** Σ_i |R_ik| per column (its maximum is the ℓ1 operator norm; 0 marks a zero column) */
  columnAbsSums: number[];
  /** 'pixels' | 'elements' | 'groups' (Shapley feature groups) */
  features: FeatureMode | 'groups';
  /** shape of one column as an image: [H, W], [C, H, W] or [F] */
  featureShape: number[];
  inactive: InactivePolicy;
  /** the column choice (columns.ts), e.g. `output` (E_k / f_k, the default) or `sum+top:3` */
  columnChoice: string;
  /** outputs that were inactive (f_k ≤ 0) */
  inactiveOutputs: number[];
  diagnostics?: Record<string, number[]>;
  /** for 'groups': the group id of every pixel */
  groupMask?: Int32Array;
}

export async function redistributionMatrix(
  method: Method,
  x: Float32Array,
  opts: RedistributionOptions = {},
): Promise<RedistributionMatrix> {
  const runner = method.runner;
  const c = runner.outputSize;
  const lp = method.linearPass;
  const outputs = Array.from(await runner.forward(x, 1, lp && { passKey: lp.key, pass: lp.pass }));
  const { active, columns } = planColumns(method, outputs, opts);
  const { seeds, K } = oneHotSeeds(c, active);
  // Shapley gets every column from the same forward passes: one call. The other methods are one
  // backward pass per seed: seeds go in chunks of one run, so only R is ever held in full (VGG16:
  // 0.4 GB of R instead of 0.6 GB more of float32 attributions of all 1000 seeds).
  const chunk = method.name === 'shapley' ? Math.max(1, K) : Math.max(1, runner.rowsPerRun());
  if (K === 0) return emptyMatrix(method, outputs, columns, opts);
  const place = placeR(method, columns.length, Math.min(K, chunk), opts);
  let matrix: RedistributionMatrix | undefined;
  try {
    for (let j0 = 0; j0 < K; j0 += chunk) {
      const kc = Math.min(chunk, K - j0);
      const ex = await method.attribute(x, seeds.subarray(j0 * c, (j0 + kc) * c), kc);
      const computed = active.slice(j0, j0 + kc);
      if (!matrix) matrix = newMatrix(method, ex, outputs, opts, place);
      fillColumns(matrix, method, ex, computed, opts);
      if (ex.diagnostics && j0 > 0) {
        matrix.diagnostics ??= {};
        for (const [name, vals] of Object.entries(ex.diagnostics))
          matrix.diagnostics[name] = [...(matrix.diagnostics[name] ?? []), ...vals];
      }
    }
  } catch (e) {
    matrix?.store.release();
    throw e;
  }
  return matrix!;
}

const GiB = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
/** an in-memory R gives back its reservation when it is garbage-collected without release() */
const reservations = new FinalizationRegistry<() => void>((release) => release());

/**
 * Where R goes: in memory when its float64 bytes leave room in what the runner's budget has left
 * for 90 % of the rows a run would get without it (at least one; then R is reserved against the
 * budget, so later runs shrink), else to `opts.spill`: a file costs a write and stripe reads,
 * fewer rows per run cost more (VGG16, exact LRP R at the default budget: R in memory leaves 3
 * rows per run, 275 s; on disk 4 rows, ≈ 230 s, of which the Gram matrix from disk ≈ 2-7 s).
 * Decided before any attribution is computed, so a refusal costs nothing.
 */
function placeR(
  method: Method,
  columns: number,
  chunkRows: number,
  opts: RedistributionOptions,
): (d: number, c: number) => RStore {
  const runner = method.runner;
  const rowsUpper = featureRowsUpper(method, opts);
  const bytes = rowsUpper * columns * 8;
  const attributions = chunkRows * runner.inputSize * 4;
  const row = rowBytes(runner.memory, 'backward');
  const free = runner.freeBytes() - row * Math.max(1, Math.ceil(0.9 * runner.rowsPerRun('backward')));
  const placement = opts.placement ?? 'auto';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes + attributions > maxBytes)
    throw new Error(
      `R would need ${GiB(bytes + attributions)} (${columns} outputs × ${rowsUpper} input values), above the ${GiB(maxBytes)} limit: use --matrix-free, --inactive drop, or fewer outputs`,
    );
  const what = `R (${rowsUpper} × ${columns}, ${GiB(bytes)} in float64)`;
  if (placement === 'disk' || (placement === 'auto' && bytes > free)) {
    const spill = opts.spill ?? getDefaultSpill();
    if (!spill)
      throw new Error(
        `${what} does not fit the memory budget (${GiB(Math.max(0, free))} left next to the model's sessions and 90 % of a run) and has nowhere to spill: raise --memory-budget, use --matrix-free, --inactive drop or fewer outputs`,
      );
    return spill;
  }
  return (d, c) => {
    const release = runner.reserve(d * c * 8);
    const store = memoryStore(new Float64Array(d * c), d, c, () => {
      reservations.unregister(store);
      release();
    });
    reservations.register(store, release, store);
    return store;
  };
}

/** rows of R before any attribution: pixels or elements (Shapley's feature groups are fewer) */
function featureRowsUpper(method: Method, opts: RedistributionOptions): number {
  const shape = method.runner.model.inputShape;
  const multi = shape.length === 3 && shape[0] > 1;
  return multi && (opts.features ?? 'pixels') === 'pixels' ? shape[1] * shape[2] : method.runner.inputSize;
}

/** The outputs whose attributions R needs (active) and the outputs that become columns */
export function planColumns(
  method: Method,
  outputs: number[],
  opts: RedistributionOptions,
): { active: number[]; columns: number[] } {
  const inactive = opts.inactive ?? 'zero';
  const choice = opts.columns ?? DEFAULT_COLUMNS;
  const selected = selectOutputs(outputs, choice);
  if (inactive === 'keep' && method.divideByOutput && choice.scale === 'output') {
    for (const k of selected)
      if (Math.abs(outputs[k]) < 1e-12)
        throw new Error(
          `output ${k} is ${outputs[k]}: |f_k| < 1e-12, cannot divide (use --inactive zero or drop)`,
        );
  }
  const active = selected.filter((k) => inactive === 'keep' || outputs[k] > 0);
  return { active, columns: inactive === 'drop' ? active : selected };
}

/** Rows of R and how one attribution becomes a column: pixels, elements or feature groups */
function featureLayout(method: Method, ex: Explanation, opts: RedistributionOptions) {
  const shape = method.runner.model.inputShape;
  const multi = shape.length === 3 && shape[0] > 1;
  const features: FeatureMode = opts.features ?? 'pixels';
  if (ex.groups) {
    const rows = ex.groups.count;
    return {
      rows,
      featureShape: [rows],
      mode: 'groups' as const,
      column: (j: number) => ex.groups!.attributions.subarray(j * rows, (j + 1) * rows),
    };
  }
  if (multi && features === 'pixels') {
    const [C, H, W] = shape;
    const rows = H * W;
    return {
      rows,
      featureShape: [H, W],
      mode: 'pixels' as const,
      column: (j: number) => {
        const out = new Float64Array(rows);
        for (let ch = 0; ch < C; ch++)
          for (let p = 0; p < rows; p++) out[p] += ex.attributions[j * C * rows + ch * rows + p];
        return out;
      },
    };
  }
  const rows = method.runner.inputSize;
  return {
    rows,
    featureShape: shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape,
    mode: multi ? ('elements' as const) : ('pixels' as const),
    column: (j: number): Float32Array | Float64Array => ex.attributions.subarray(j * rows, (j + 1) * rows),
  };
}

/** Write the columns of the outputs `computed` (the seeds of `ex`, in order) into R */
function fillColumns(
  m: RedistributionMatrix,
  method: Method,
  ex: Explanation,
  computed: number[],
  opts: RedistributionOptions,
): void {
  const choice = opts.columns ?? DEFAULT_COLUMNS;
  const { column } = featureLayout(method, ex, opts);
  const { active } = planColumns(method, m.outputs, opts);
  for (const k of active) {
    const j = computed.indexOf(k);
    if (j < 0) continue;
    const col = m.columns.indexOf(k);
    let scale = rawColumnScale(choice.scale, method.divideByOutput, m.outputs[k]);
    const v = column(j);
    if (choice.scale === 'sum') {
      let sum = 0;
      for (let i = 0; i < m.d; i++) sum += v[i];
      scale = sum === 0 ? 0 : 1 / sum;
    }
    const sums = m.store.writeColumn(col, v, scale);
    m.conservation[col] = sums.sum;
    m.columnAbsSums[col] = sums.abs;
  }
}

/**
 * R from a method's explanation of one-hot seeds: `computed[j]` is the output whose seed is the
 * j-th attribution. Every output the options make active must have been computed (so one
 * explanation of all outputs serves every column choice, as in the ablation). R is in memory.
 */
export function matrixFromExplanation(
  method: Method,
  ex: Explanation,
  computed: number[],
  outputs: number[],
  opts: RedistributionOptions = {},
): RedistributionMatrix {
  const { active } = planColumns(method, outputs, opts);
  const missing = active.find((k) => !computed.includes(k));
  if (missing !== undefined)
    throw new Error(`internal: the attribution of output ${missing} was not computed`);
  const m = newMatrix(method, ex, outputs, opts, (d, c) => memoryStore(new Float64Array(d * c), d, c));
  fillColumns(m, method, ex, computed, opts);
  return m;
}

/** An empty R shaped for `ex`'s features, in the store `place` makes */
function newMatrix(
  method: Method,
  ex: Explanation,
  outputs: number[],
  opts: RedistributionOptions,
  place: (d: number, c: number) => RStore,
): RedistributionMatrix {
  const { columns } = planColumns(method, outputs, opts);
  const layout = featureLayout(method, ex, opts);
  const store = place(layout.rows, columns.length);
  return withStore(
    {
      ...emptyFields(layout.rows, columns, outputs, opts, layout.mode, layout.featureShape),
      diagnostics: ex.diagnostics,
      groupMask: ex.groups?.mask,
    },
    store,
  );
}

/** The fields every R has before its columns are written (sums 0) */
function emptyFields(
  d: number,
  columns: number[],
  outputs: number[],
  opts: RedistributionOptions,
  features: RedistributionMatrix['features'],
  featureShape: number[],
): Omit<RedistributionMatrix, 'R' | 'store'> {
  return {
    d,
    c: columns.length,
    columns,
    outputs,
    conservation: columns.map(() => 0),
    columnAbsSums: columns.map(() => 0),
    features,
    featureShape,
    inactive: opts.inactive ?? 'zero',
    columnChoice: columnsLabel(opts.columns ?? DEFAULT_COLUMNS),
    inactiveOutputs: outputs.map((v, k) => (v <= 0 ? k : -1)).filter((k) => k >= 0),
  };
}

/** The matrix with its store, and `R` as the in-memory array (or a getter that says where R is) */
function withStore(m: Omit<RedistributionMatrix, 'R' | 'store'>, store: RStore): RedistributionMatrix {
  const full = { ...m, store } as RedistributionMatrix;
  if (store.array) full.R = store.array as Float64Array;
  else
    Object.defineProperty(full, 'R', {
      get() {
        throw new Error(`R is on disk (${store.location}), not in memory: read it through matrix.store`);
      },
    });
  return full;
}

/** No active output: an all-zero R of the right shape */
function emptyMatrix(
  method: Method,
  outputs: number[],
  columns: number[],
  opts: RedistributionOptions,
): RedistributionMatrix {
  const shape = method.runner.model.inputShape;
  const elements = shape.length === 3 && shape[0] > 1 && opts.features === 'elements';
  const rows = featureRowsUpper(method, opts);
  const featureShape = shape.length === 3 ? (elements ? shape : shape.slice(1)) : shape;
  return withStore(
    emptyFields(rows, columns, outputs, opts, elements ? 'elements' : 'pixels', featureShape),
    memoryStore(new Float64Array(rows * columns.length), rows, columns.length),
  );
}

export function columnSums(R: Float64Array, d: number, c: number): number[] {
  return columnSumsOf(memoryStore(R, d, c));
}

/** max_k Σ_i |R_ik| */
export function l1OperatorNorm(R: Float64Array, d: number, c: number): number {
  return Math.max(0, ...columnSumsOf(memoryStore(R, d, c), true));
}
