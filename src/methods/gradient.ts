/** Gradient and Gradient×Input (DESIGN §1.5). */
import type { ModelRunner } from '../runtime/runner.js';
import { checkInput, type Explanation, type Method } from './types.js';

export const GRADIENT_PASS = { mode: 'gradient' } as const;

export function gradient(runner: ModelRunner): Method {
  return {
    name: 'gradient',
    options: {},
    divideByOutput: true,
    runner,
    linearPass: { key: 'gradient', pass: GRADIENT_PASS, timesInput: false },
    async attribute(x, seeds, K): Promise<Explanation> {
      checkInput(runner, x);
      const r = await runner.backward('gradient', GRADIENT_PASS, x, 1, seeds, K);
      return { attributions: r.attributions, logits: r.logits, K };
    },
  };
}

export function gradientTimesInput(runner: ModelRunner): Method {
  const grad = gradient(runner);
  return {
    ...grad,
    name: 'gi',
    linearPass: { key: 'gradient', pass: GRADIENT_PASS, timesInput: true },
    async attribute(x, seeds, K): Promise<Explanation> {
      const ex = await grad.attribute(x, seeds, K);
      const d = x.length;
      for (let k = 0; k < K; k++) for (let i = 0; i < d; i++) ex.attributions[k * d + i] *= x[i];
      return ex;
    },
  };
}

/**
 * Σ_i w_i · A_i over the B blocks of a batched backward result [B, K·d] (SmoothGrad: the mean
 * over noisy copies; IG: the quadrature over path points), accumulated in float64.
 */
export function weightedBlockSum(
  attributions: Float32Array,
  weights: number[],
  blockSize: number,
): Float64Array {
  const acc = new Float64Array(blockSize);
  weights.forEach((w, i) => {
    const a = attributions.subarray(i * blockSize, (i + 1) * blockSize);
    for (let q = 0; q < blockSize; q++) acc[q] += w * a[q];
  });
  return acc;
}
