/**
 * The paper's MNIST experiment (section 4, DESIGN §1.8) as data: LRP (mnist-paper by default) over
 * a γ grid from 0 to ∞, SmoothGrad over noise levels, IG (10 steps) and Shapley (25 samples) on the
 * first N test digits, every score, into a resumable store; optionally the ablation of the LRP
 * choices the paper leaves open (ablation.ts).
 */
import type { MethodSpec } from '../methods/factory.js';
import type { MaxPoolRule } from '../propagate/maxpool-average.js';
import type { ModelRunner } from '../runtime/runner.js';
import type { ResultStore } from './store.js';
import { paramsKey, runSweep, type SweepInput, type SweepPoint } from './sweep.js';

export interface ReproduceConfig {
  images: number;
  /** LRP composite of the main γ sweep */
  composite: string;
  maxpoolRule: MaxPoolRule;
  gammas: number[];
  noises: number[];
  igSteps: number;
  shapleySamples: number;
  sgSamples: number;
  seed: number;
}

export function reproduceConfig(quick: boolean, seed = 0): ReproduceConfig {
  const log = (a: number, b: number, n: number) =>
    Array.from({ length: n }, (_, i) => Number((10 ** (a + (i * (b - a)) / (n - 1))).toPrecision(6)));
  return quick
    ? {
        images: 10,
        composite: 'mnist-paper',
        maxpoolRule: 'wta',
        gammas: [0, 0.01, 0.1, 1, 10, Number.POSITIVE_INFINITY],
        noises: [0.05, 0.2, 0.5],
        igSteps: 10,
        shapleySamples: 25,
        sgSamples: 10,
        seed,
      }
    : {
        images: 100,
        composite: 'mnist-paper',
        maxpoolRule: 'wta',
        gammas: [0, ...log(-3, 3, 13), Number.POSITIVE_INFINITY],
        noises: [0.02, 0.05, 0.1, 0.2, 0.3, 0.5],
        igSteps: 10,
        shapleySamples: 25,
        sgSamples: 10,
        seed,
      };
}

export function reproducePoints(cfg: ReproduceConfig): SweepPoint[] {
  const base = (s: MethodSpec): MethodSpec => ({ preprocess: 'mnist', seed: cfg.seed, ...s });
  return [
    ...cfg.gammas.map((g) => ({
      spec: base({ method: 'lrp', composite: cfg.composite, gamma: g, maxpoolRule: cfg.maxpoolRule }),
      paramName: 'gamma',
      paramValue: g,
    })),
    ...cfg.noises.map((s) => ({
      spec: base({ method: 'sg', noise: s, samples: cfg.sgSamples, timesInput: true }),
      paramName: 'noise',
      paramValue: s,
    })),
    {
      spec: base({ method: 'ig', steps: cfg.igSteps, rule: 'right', baseline: 'black' }),
      paramName: 'none',
      paramValue: 0,
    },
    {
      spec: base({ method: 'shapley', samples: cfg.shapleySamples, baseline: 'black' }),
      paramName: 'none',
      paramValue: 0,
    },
  ];
}

/** Store keys (params) of the main experiment's points, to tell its rows from the ablation's */
export function reproduceParams(cfg: ReproduceConfig): Set<string> {
  return new Set(reproducePoints(cfg).map((p) => paramsKey(p, 'pixels', 'zero')));
}

export async function runReproduce(
  runner: ModelRunner,
  inputs: SweepInput[],
  cfg: ReproduceConfig,
  store: ResultStore,
  onProgress?: (done: number, total: number, skipped: number) => void,
) {
  return runSweep({
    runner,
    inputs,
    points: reproducePoints(cfg),
    store,
    metrics: { pf: true, entropy: true },
    features: 'pixels',
    inactive: 'zero',
    preset: 'mnist',
    onProgress,
  });
}
