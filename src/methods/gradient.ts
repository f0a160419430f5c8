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
