/**
 * The redistribution matrix R ∈ R^{d×c} (DESIGN §1.2): column k is E_k(x)/f_k(x) (LRP: the
 * relevance of the one-hot seed e_k directly). Features are pixels (channel-summed) or elements;
 * Shapley over feature groups gives one row per group. Inactive outputs follow a policy; other
 * column choices (raw E_k, E_k / Σ_i E_ik, top-N outputs) are in columns.ts.
 */
import { type Explanation, type Method, oneHotSeeds } from '../methods/types.js';
import {
  type ColumnChoice,
  columnsLabel,
  DEFAULT_COLUMNS,
  rawColumnScale,
  selectOutputs,
} from './columns.js';

export type FeatureMode = 'pixels' | 'elements';
export type InactivePolicy = 'zero' | 'drop' | 'keep';

export interface RedistributionOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
  /** which outputs become columns and how they are normalised (default: all, E_k / f_k) */
  columns?: ColumnChoice;
  /** refuse to build R (and its attributions) above this many bytes (default 8 GiB) */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

export interface RedistributionMatrix {
  /** row-major d×c: R[i*c + k] */
  R: Float64Array;
  d: number;
  c: number;
  /** output index of each column */
  columns: number[];
  /** f(x) for every output */
  outputs: number[];
  /** Σ_i R_ik per column (1 for conservative methods) */
  conservation: number[];
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
  const outputs = Array.from(await runner.forward(x, 1));
  const { active, columns } = planColumns(method, outputs, opts);
  const { seeds, K } = oneHotSeeds(runner.outputSize, active);
  // float32 attributions of all K seeds plus R in float64: fail before computing, not after
  const bytes = K * runner.inputSize * 4 + runner.inputSize * columns.length * 8;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes > maxBytes) {
    throw new Error(
      `R would need ${(bytes / 1024 ** 3).toFixed(1)} GiB (${K} outputs × ${runner.inputSize} input values), above the ${(maxBytes / 1024 ** 3).toFixed(1)} GiB limit: use --matrix-free, --inactive drop, or fewer outputs`,
    );
  }
  const ex = await method.attribute(x, seeds, K);
  return matrixFromExplanation(method, ex, active, outputs, opts);
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

/**
 * R from a method's explanation of one-hot seeds: `computed[j]` is the output whose seed is the
 * j-th attribution. Every output the options make active must have been computed (so one
 * explanation of all outputs serves every column choice, as in the ablation).
 */
export function matrixFromExplanation(
  method: Method,
  ex: Explanation,
  computed: number[],
  outputs: number[],
  opts: RedistributionOptions = {},
): RedistributionMatrix {
  const shape = method.runner.model.inputShape;
  const inactive = opts.inactive ?? 'zero';
  const choice = opts.columns ?? DEFAULT_COLUMNS;
  const multi = shape.length === 3 && shape[0] > 1;
  const features: FeatureMode = opts.features ?? 'pixels';
  const { active, columns } = planColumns(method, outputs, opts);
  const inactiveOutputs = outputs.map((v, k) => (v <= 0 ? k : -1)).filter((k) => k >= 0);
  let rows: number;
  let featureShape: number[];
  let mode: RedistributionMatrix['features'];
  let column: (j: number) => Float32Array | Float64Array;
  if (ex.groups) {
    rows = ex.groups.count;
    featureShape = [rows];
    mode = 'groups';
    column = (j) => ex.groups!.attributions.subarray(j * rows, (j + 1) * rows);
  } else if (multi && features === 'pixels') {
    const [C, H, W] = shape;
    rows = H * W;
    featureShape = [H, W];
    mode = 'pixels';
    column = (j) => {
      const out = new Float64Array(rows);
      for (let ch = 0; ch < C; ch++)
        for (let p = 0; p < rows; p++) out[p] += ex.attributions[j * C * rows + ch * rows + p];
      return out;
    };
  } else {
    rows = method.runner.inputSize;
    featureShape = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
    mode = multi ? 'elements' : 'pixels';
    column = (j) => ex.attributions.subarray(j * rows, (j + 1) * rows);
  }
  const nc = columns.length;
  const R = new Float64Array(rows * nc);
  for (const k of active) {
    const j = computed.indexOf(k);
    if (j < 0) throw new Error(`internal: the attribution of output ${k} was not computed`);
    const col = columns.indexOf(k);
    let scale = rawColumnScale(choice.scale, method.divideByOutput, outputs[k]);
    const v = column(j);
    if (choice.scale === 'sum') {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += v[i];
      scale = sum === 0 ? 0 : 1 / sum;
    }
    for (let i = 0; i < rows; i++) R[i * nc + col] = v[i] * scale;
  }
  const conservation = columnSums(R, rows, nc);
  return {
    R,
    d: rows,
    c: nc,
    columns,
    outputs,
    conservation,
    features: mode,
    featureShape,
    inactive,
    columnChoice: columnsLabel(choice),
    inactiveOutputs,
    diagnostics: ex.diagnostics,
    groupMask: ex.groups?.mask,
  };
}

export function columnSums(R: Float64Array, d: number, c: number): number[] {
  const s = new Array<number>(c).fill(0);
  for (let i = 0; i < d; i++) for (let k = 0; k < c; k++) s[k] += R[i * c + k];
  return s;
}

/** max_k Σ_i |R_ik| */
export function l1OperatorNorm(R: Float64Array, d: number, c: number): number {
  const s = new Array<number>(c).fill(0);
  for (let i = 0; i < d; i++) for (let k = 0; k < c; k++) s[k] += Math.abs(R[i * c + k]);
  return Math.max(0, ...s);
}
