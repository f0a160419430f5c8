/**
 * The paper's MNIST experiment (section 4, DESIGN §1.8) as data: LRP (mnist-paper by default) over
 * a γ grid from 0 to ∞, SmoothGrad over noise levels, IG (10 steps) and Shapley (25 samples) on the
 * first N test digits, every score, into a resumable store; optionally the ablation of the LRP
 * choices the paper leaves open (ablation.ts).
 */
import type { MaxPoolRule } from '../propagate/maxpool-average.js';
import type { ModelRunner } from '../runtime/runner.js';
import { paperPoints } from './paper-protocol.js';
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
  return paperPoints({
    preprocess: 'mnist',
    seed: cfg.seed,
    lrp: { composite: cfg.composite, maxpoolRule: cfg.maxpoolRule },
    gammas: cfg.gammas,
    noises: cfg.noises,
    sgSamples: cfg.sgSamples,
    igSteps: cfg.igSteps,
    shapley: { samples: cfg.shapleySamples },
  });
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
