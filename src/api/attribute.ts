/**
 * Captum-style attributions with one convention across methods (DESIGN §1.2): the map of class k
 * explains f_k. Gradient-based maps (G×I, SmoothGrad×input, IG) and Shapley already do (they sum
 * to about f_k − f_k(baseline)); LRP is seeded with f_k·e_k instead of e_k, so its map sums to
 * f_k for a conservative composite. `normalized` returns R's columns E_k/f_k instead (LRP seeded
 * with e_k), with columns of inactive outputs (f_k ≤ 0) set to 0 as R does by default.
 * Platform-neutral: works with any Engine.
 */
import { createMethod, type MethodSpec } from '../methods/factory.js';
import { checkInput, type Method } from '../methods/types.js';
import type { ModelRunner } from '../runtime/runner.js';

/** 'f_k': map k explains f_k (sums to ≈ f_k − f_k(baseline)); 'E_k/f_k': R's column k */
export type AttributionConvention = 'f_k' | 'E_k/f_k';

export interface Attribution {
  /** [K, ...input shape], one map per target */
  attributions: Float32Array;
  shape: number[];
  targets: number[];
  convention: AttributionConvention;
  /** f(x), all outputs */
  outputs: number[];
  /** f(baseline), all outputs (IG and Shapley) */
  baselineOutputs?: number[];
  /** normalized only: targets with f_k ≤ 0, whose maps are 0 */
  inactiveTargets: number[];
  /**
   * Shapley over feature groups: the value of every group [K, F] and the group of every pixel.
   * `attributions` gives every pixel of a group the group's whole value (Captum's convention),
   * so a pixel map sums to (group size) × value; the per-group values sum to f_k − f_k(baseline).
   */
  groups?: { attributions: Float32Array; count: number; mask: Int32Array };
  /** method-specific, e.g. IG's completenessGap per target (Σ map − (f_k − f_k(baseline))) */
  diagnostics?: Record<string, number[]>;
}

export interface AttributeOptions {
  normalized?: boolean;
}

function targetList(target: number | number[] | undefined, c: number): number[] {
  const ts = target === undefined ? Array.from({ length: c }, (_, k) => k) : [target].flat();
  for (const k of ts)
    if (!Number.isInteger(k) || k < 0 || k >= c)
      throw new Error(`target ${k} is not an output index (the model has ${c} outputs: 0..${c - 1})`);
  return ts;
}

/**
 * Attributions of `input` (one sample, [...input shape]) for `target` (one class, a list, or all
 * classes when omitted), under the convention above.
 */
export async function attribute(
  method: Method,
  input: Float32Array,
  target?: number | number[],
  opts: AttributeOptions = {},
): Promise<Attribution> {
  const runner = method.runner;
  checkInput(runner, input);
  const c = runner.outputSize;
  const targets = targetList(target, c);
  const K = targets.length;
  const outputs = Array.from(await runner.forward(input, 1));
  const normalized = opts.normalized ?? false;
  // LRP's map of seed y is linear in y: seeding f_k·e_k makes it explain f_k
  const seedScale = (k: number) => (!normalized && !method.divideByOutput ? outputs[k] : 1);
  const seeds = new Float32Array(K * c);
  targets.forEach((k, i) => {
    seeds[i * c + k] = seedScale(k);
  });
  const ex = await method.attribute(input, seeds, K);
  const inactiveTargets = normalized ? targets.filter((k) => !(outputs[k] > 0)) : [];
  if (normalized && method.divideByOutput) {
    const per = runner.inputSize;
    targets.forEach((k, i) => {
      const s = outputs[k] > 0 ? 1 / outputs[k] : 0;
      for (let q = 0; q < per; q++) ex.attributions[i * per + q] *= s;
      if (ex.groups) {
        const F = ex.groups.count;
        for (let f = 0; f < F; f++) ex.groups.attributions[i * F + f] *= s;
      }
    });
  } else if (normalized) {
    const per = runner.inputSize;
    targets.forEach((k, i) => {
      if (!(outputs[k] > 0)) ex.attributions.fill(0, i * per, (i + 1) * per);
    });
  }
  const baseline = method.baseline;
  return {
    attributions: ex.attributions,
    shape: [K, ...runner.model.inputShape],
    targets,
    convention: normalized ? 'E_k/f_k' : 'f_k',
    outputs,
    baselineOutputs: baseline ? Array.from(await runner.forward(baseline, 1)) : undefined,
    inactiveTargets,
    groups: ex.groups,
    diagnostics: ex.diagnostics,
  };
}

/** A method bound to a runner, called Captum's way: `attribute(inputs, target, baselines)`. */
export interface Explainer {
  readonly spec: MethodSpec;
  readonly method: Method;
  /**
   * baselines (IG and Shapley only): 'black' (the preprocessing's black), a constant in
   * model-input space, or a full input-shaped tensor; default the spec's baseline.
   */
  attribute(
    inputs: Float32Array,
    target?: number | number[],
    baselines?: 'black' | number | Float32Array,
    opts?: AttributeOptions,
  ): Promise<Attribution>;
}

export function explainer(runner: ModelRunner, spec: MethodSpec): Explainer {
  const method = createMethod(runner, spec);
  return {
    spec,
    method,
    async attribute(inputs, target, baselines, opts) {
      if (baselines === undefined) return attribute(method, inputs, target, opts);
      if (spec.method !== 'ig' && spec.method !== 'shapley')
        throw new Error(`baselines apply to ig and shapley, not ${spec.method}`);
      return attribute(createMethod(runner, { ...spec, baseline: baselines }), inputs, target, opts);
    },
  };
}
