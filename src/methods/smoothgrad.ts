/**
 * SmoothGrad (DESIGN §1.5): n noisy copies x + ε_j, ε_j ~ N(0, (s·(max x − min x))²), all noisy;
 * one batched backward over all n samples and all seeds; SG×I (default) or the mean gradient.
 */
import type { ModelRunner } from '../runtime/runner.js';
import { GRADIENT_PASS, weightedBlockSum } from './gradient.js';
import { Rng } from './random.js';
import { checkInput, type Explanation, type Linearization, type Method } from './types.js';

export interface SmoothGradOptions {
  samples?: number;
  noise?: number;
  timesInput?: boolean;
  seed?: number;
  /** explicit noise [n, ...input] (overrides samples/noise/seed) */
  noiseTensor?: Float32Array;
}

export function smoothGrad(runner: ModelRunner, opts: SmoothGradOptions = {}): Method {
  const n = opts.noiseTensor ? opts.noiseTensor.length / runner.inputSize : (opts.samples ?? 10);
  const s = opts.noise ?? 0.1;
  const timesInput = opts.timesInput ?? true;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`SmoothGrad: noise tensor must hold whole samples of ${runner.inputSize} values`);
  if (!(s >= 0)) throw new Error(`SmoothGrad: noise level must be ≥ 0, got ${s}`);
  /** the n noisy copies of x (the same for every call with this seed) */
  const noisyCopies = (x: Float32Array): Float32Array => {
    const d = x.length;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const std = s * (hi - lo);
    const rng = new Rng(seed);
    const noisy = new Float32Array(n * d);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < d; i++) {
        const e = opts.noiseTensor ? opts.noiseTensor[j * d + i] : Math.fround(rng.normal() * std);
        noisy[j * d + i] = x[i] + e; // float32 addition, as the reference does
      }
    }
    return noisy;
  };
  return {
    name: 'sg',
    options: opts.noiseTensor
      ? { samples: n, noise: 'explicit tensor', timesInput }
      : { samples: n, noise: s, timesInput, seed },
    divideByOutput: true,
    runner,
    linearize(x): Linearization {
      checkInput(runner, x);
      const w = Array(n).fill(1 / n);
      return {
        key: 'gradient',
        pass: GRADIENT_PASS,
        points: noisyCopies(x),
        batch: n,
        weights: w,
        factor: timesInput ? x : undefined,
      };
    },
    async attribute(x, seeds, K): Promise<Explanation> {
      checkInput(runner, x);
      const d = x.length;
      const noisy = noisyCopies(x);
      const r = await runner.backward('gradient', GRADIENT_PASS, noisy, n, seeds, K);
      const mean = new Float32Array(K * d);
      const acc = weightedBlockSum(r.attributions, Array(n).fill(1 / n), K * d);
      for (let q = 0; q < K * d; q++) mean[q] = acc[q] * (timesInput ? x[q % d] : 1);
      const logits = await runner.forward(x, 1);
      return { attributions: mean, logits, K };
    },
  };
}
