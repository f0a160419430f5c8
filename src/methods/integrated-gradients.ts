/**
 * Integrated Gradients (DESIGN §1.5): m points on the straight path from the baseline x̄ to x,
 * (x − x̄) ⊙ weighted mean of gradients. Rules: right (default, α_i = i/m), left, middle,
 * trapezoid. Reports the completeness gap Σ attribution − yᵀ(f(x) − f(x̄)) per seed.
 */
import type { ModelRunner } from '../runtime/runner.js';
import { GRADIENT_PASS, weightedBlockSum } from './gradient.js';
import { checkInput, type Explanation, type Linearization, type Method } from './types.js';

export type IgRule = 'right' | 'left' | 'middle' | 'trapezoid';

export interface IgOptions {
  steps?: number;
  rule?: IgRule;
  /** the baseline input [...shape] */
  baseline: Float32Array;
  /** how the baseline was chosen, recorded in results */
  baselineLabel?: string;
}

export function igPoints(m: number, rule: IgRule): { alphas: number[]; weights: number[] } {
  if (!Number.isInteger(m) || m < 1) throw new Error(`IG: steps must be a positive integer, got ${m}`);
  switch (rule) {
    case 'right':
      return { alphas: Array.from({ length: m }, (_, i) => (i + 1) / m), weights: Array(m).fill(1 / m) };
    case 'left':
      return { alphas: Array.from({ length: m }, (_, i) => i / m), weights: Array(m).fill(1 / m) };
    case 'middle':
      return { alphas: Array.from({ length: m }, (_, i) => (i + 0.5) / m), weights: Array(m).fill(1 / m) };
    case 'trapezoid':
      return {
        alphas: Array.from({ length: m + 1 }, (_, i) => i / m),
        weights: Array.from({ length: m + 1 }, (_, i) => (i === 0 || i === m ? 0.5 / m : 1 / m)),
      };
    default:
      throw new Error(`IG: unknown rule "${rule}" (right, left, middle, trapezoid)`);
  }
}

export function integratedGradients(runner: ModelRunner, opts: IgOptions): Method {
  const m = opts.steps ?? 10;
  const rule = opts.rule ?? 'right';
  const { alphas, weights } = igPoints(m, rule);
  checkInput(runner, opts.baseline, 'IG baseline');
  const pathPoints = (x: Float32Array): Float32Array => {
    const d = x.length;
    const xb = opts.baseline;
    const pts = new Float32Array(alphas.length * d);
    alphas.forEach((a, i) => {
      for (let q = 0; q < d; q++) pts[i * d + q] = xb[q] + Math.fround(a) * (x[q] - xb[q]);
    });
    return pts;
  };
  return {
    name: 'ig',
    options: { steps: m, rule, baseline: opts.baselineLabel ?? 'custom' },
    divideByOutput: true,
    runner,
    baseline: opts.baseline,
    linearize(x): Linearization {
      checkInput(runner, x);
      const factor = new Float32Array(x.length);
      for (let q = 0; q < x.length; q++) factor[q] = x[q] - opts.baseline[q];
      return {
        key: 'gradient',
        pass: GRADIENT_PASS,
        points: pathPoints(x),
        batch: alphas.length,
        weights,
        factor,
      };
    },
    async attribute(x, seeds, K): Promise<Explanation> {
      checkInput(runner, x);
      const d = x.length;
      const xb = opts.baseline;
      const pts = pathPoints(x);
      const r = await runner.backward('gradient', GRADIENT_PASS, pts, alphas.length, seeds, K);
      const acc = weightedBlockSum(r.attributions, weights, K * d);
      const attributions = new Float32Array(K * d);
      for (let q = 0; q < K * d; q++) attributions[q] = (x[q % d] - xb[q % d]) * acc[q];
      const ends = await runner.forward(concat(x, xb), 2);
      const c = runner.outputSize;
      const gap: number[] = [];
      for (let k = 0; k < K; k++) {
        let sum = 0;
        for (let q = 0; q < d; q++) sum += attributions[k * d + q];
        let target = 0;
        for (let o = 0; o < c; o++) target += seeds[k * c + o] * (ends[o] - ends[c + o]);
        gap.push(sum - target);
      }
      return { attributions, logits: ends.slice(0, c), K, diagnostics: { completenessGap: gap } };
    },
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
