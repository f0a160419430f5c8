/**
 * The paper's method grid (section 4), shared by the MNIST and ImageNet experiments: LRP over γ,
 * SmoothGrad×Input over the noise level, IG (right Riemann sum, black baseline) and, optionally,
 * Shapley value sampling (black baseline).
 */
import type { MethodSpec } from '../methods/factory.js';
import type { SweepPoint } from './sweep.js';

export interface PaperGrid {
  preprocess: string;
  seed: number;
  /** LRP's fixed settings (composite, max-pool rule) */
  lrp: Partial<MethodSpec>;
  gammas: number[];
  noises: number[];
  sgSamples: number;
  igSteps: number;
  /** Shapley's settings (samples, patch), or undefined to leave it out */
  shapley?: Partial<MethodSpec>;
}

export function paperPoints(grid: PaperGrid): SweepPoint[] {
  const base = (s: MethodSpec): MethodSpec => ({ preprocess: grid.preprocess, seed: grid.seed, ...s });
  const once = (spec: MethodSpec): SweepPoint => ({ spec: base(spec), paramName: 'none', paramValue: 0 });
  return [
    ...grid.gammas.map((g) => ({
      spec: base({ method: 'lrp', ...grid.lrp, gamma: g }),
      paramName: 'gamma',
      paramValue: g,
    })),
    ...grid.noises.map((s) => ({
      spec: base({ method: 'sg', noise: s, samples: grid.sgSamples, timesInput: true }),
      paramName: 'noise',
      paramValue: s,
    })),
    once({ method: 'ig', steps: grid.igSteps, rule: 'right', baseline: 'black' }),
    ...(grid.shapley ? [once({ method: 'shapley', baseline: 'black', ...grid.shapley })] : []),
  ];
}
