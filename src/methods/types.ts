/** The common shape of every explanation method (Captum-like `attribute(x, seeds)`). */
import type { PassMode } from '../propagate/compile.js';
import type { ModelRunner } from '../runtime/runner.js';

export type MethodName = 'gradient' | 'gi' | 'lrp' | 'sg' | 'ig' | 'shapley';
export const METHOD_NAMES: MethodName[] = ['gradient', 'gi', 'lrp', 'sg', 'ig', 'shapley'];

export interface Explanation {
  /** [K, ...input shape]: the attribution of each seed's readout yᵀf */
  attributions: Float32Array;
  /** f(x), the clean-input outputs [c] */
  logits: Float32Array;
  K: number;
  /** method-specific diagnostics (e.g. the IG completeness gap) */
  diagnostics?: Record<string, number[]>;
  /**
   * For methods over feature groups (Shapley): attributions per group [K, F] and the group of
   * every pixel. The redistribution matrix then has one row per group.
   */
  groups?: { attributions: Float32Array; count: number; mask: Int32Array };
}

export interface Method {
  readonly name: MethodName;
  /** everything needed to rerun it, seed included */
  readonly options: Record<string, unknown>;
  /** R's column k is E_k / f_k (true) or the attribution of seed e_k itself (LRP, false) */
  readonly divideByOutput: boolean;
  readonly runner: ModelRunner;
  /** the baseline input of methods that have one (IG, Shapley): maps explain f_k − f_k(baseline) */
  readonly baseline?: Float32Array;
  /**
   * For methods that are one linear backward pass of the input (gradient, G×I, LRP): the pass,
   * so that matrix-free estimators can also apply the transpose through the forward-mode graph.
   */
  readonly linearPass?: { key: string; pass: PassMode; timesInput: boolean };
  /**
   * For methods that average one linear backward pass over several inputs (SmoothGrad's noisy
   * copies, IG's path points): the attribution of seed y is factor ⊙ Σ_b w_b · J_bᵀ y, so its
   * transpose is the same weighted sum of forward-mode passes through those points.
   */
  linearize?(x: Float32Array): Linearization;
  /** x: one input [...shape]; seeds: [K, c] readout vectors */
  attribute(x: Float32Array, seeds: Float32Array, K: number): Promise<Explanation>;
}

/** See Method.linearize: the points, their weights and the element-wise factor of one input. */
export interface Linearization {
  key: string;
  pass: PassMode;
  /** B inputs [B, ...shape] at which the pass is linearised */
  points: Float32Array;
  batch: number;
  weights: number[];
  /** element-wise multiplier of the summed pass (x for ×Input, x − x̄ for IG); none = 1 */
  factor?: Float32Array;
}

/** Index of the largest value (first on ties) */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

export function oneHotSeeds(c: number, classes?: number[]): { seeds: Float32Array; K: number } {
  const ks = classes ?? Array.from({ length: c }, (_, i) => i);
  const seeds = new Float32Array(ks.length * c);
  ks.forEach((k, i) => {
    seeds[i * c + k] = 1;
  });
  return { seeds, K: ks.length };
}

export function checkInput(runner: ModelRunner, x: Float32Array, name = 'input'): void {
  if (x.length !== runner.inputSize) {
    throw new Error(
      `${name} has ${x.length} values, the model expects [${runner.model.inputShape}] = ${runner.inputSize}`,
    );
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${name} contains ${x[i]} at flat index ${i}`);
  }
}
