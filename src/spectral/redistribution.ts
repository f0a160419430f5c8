/**
 * The redistribution matrix R ∈ R^{d×c} (DESIGN §1.2): column k is E_k(x)/f_k(x) (LRP: the
 * relevance of the one-hot seed e_k directly). Features are pixels (channel-summed) or elements;
 * Shapley over feature groups gives one row per group. Inactive outputs follow a policy.
 */
import { type Method, oneHotSeeds } from '../methods/types.js';

export type FeatureMode = 'pixels' | 'elements';
export type InactivePolicy = 'zero' | 'drop' | 'keep';

export interface RedistributionOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
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
  const inactive = opts.inactive ?? 'zero';
  const shape = runner.model.inputShape;
  const multi = shape.length === 3 && shape[0] > 1;
  const features: FeatureMode = opts.features ?? 'pixels';
  const c = runner.outputSize;
  const outputs = Array.from(await runner.forward(x, 1));
  const inactiveOutputs = outputs.map((v, k) => (v <= 0 ? k : -1)).filter((k) => k >= 0);
  if (inactive === 'keep' && method.divideByOutput) {
    outputs.forEach((v, k) => {
      if (Math.abs(v) < 1e-12)
        throw new Error(`output ${k} is ${v}: |f_k| < 1e-12, cannot divide (use --inactive zero or drop)`);
    });
  }
  const active = outputs.map((_, k) => k).filter((k) => inactive === 'keep' || outputs[k] > 0);
  const columns = inactive === 'drop' ? active : outputs.map((_, k) => k);
  const { seeds, K } = oneHotSeeds(c, active);
  // Shapley gets every column from the same forward passes: one call. The other methods are one
  // backward pass per seed: seeds go in chunks of one run, so only R is ever held in full (VGG16:
  // 0.4 GB of R instead of 0.6 GB more of float32 attributions of all 1000 seeds).
  const chunk = method.name === 'shapley' ? Math.max(1, K) : Math.max(1, runner.rowsPerRun());
  // float32 attributions of one chunk of seeds plus R in float64: fail before computing, not after
  const bytes = Math.min(K, chunk) * runner.inputSize * 4 + runner.inputSize * columns.length * 8;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes > maxBytes) {
    throw new Error(
      `R would need ${(bytes / 1024 ** 3).toFixed(1)} GiB (${K} outputs × ${runner.inputSize} input values), above the ${(maxBytes / 1024 ** 3).toFixed(1)} GiB limit: use --matrix-free, --inactive drop, or fewer outputs`,
    );
  }
  let R = new Float64Array(0);
  let rows = 0;
  let featureShape: number[] = [];
  let mode: RedistributionMatrix['features'] = 'pixels';
  let diagnostics: Record<string, number[]> | undefined;
  let groupMask: Int32Array | undefined;
  const nc = columns.length;
  for (let j0 = 0; j0 < K; j0 += chunk) {
    const kc = Math.min(chunk, K - j0);
    const ex = await method.attribute(x, seeds.subarray(j0 * c, (j0 + kc) * c), kc);
    let column: (j: number) => Float32Array | Float64Array;
    if (ex.groups) {
      rows = ex.groups.count;
      featureShape = [rows];
      mode = 'groups';
      groupMask = ex.groups.mask;
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
      rows = runner.inputSize;
      featureShape = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
      mode = multi ? 'elements' : 'pixels';
      column = (j) => ex.attributions.subarray(j * rows, (j + 1) * rows);
    }
    if (R.length !== rows * nc) R = new Float64Array(rows * nc);
    for (let j = 0; j < kc; j++) {
      const k = active[j0 + j];
      const col = columns.indexOf(k);
      const scale = method.divideByOutput ? 1 / outputs[k] : 1;
      const v = column(j);
      for (let i = 0; i < rows; i++) R[i * nc + col] = v[i] * scale;
    }
    if (ex.diagnostics) {
      diagnostics ??= {};
      for (const [name, vals] of Object.entries(ex.diagnostics))
        diagnostics[name] = [...(diagnostics[name] ?? []), ...vals];
    }
  }
  if (K === 0) {
    // no active output: an all-zero R of the right shape
    rows =
      multi && features === 'elements'
        ? runner.inputSize
        : shape.length === 3
          ? shape[1] * shape[2]
          : runner.inputSize;
    featureShape = shape.length === 3 ? (multi && features === 'elements' ? shape : shape.slice(1)) : shape;
    mode = multi && features === 'elements' ? 'elements' : 'pixels';
    R = new Float64Array(rows * nc);
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
    inactiveOutputs,
    diagnostics,
    groupMask,
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
