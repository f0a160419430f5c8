/**
 * The adjoint identity ⟨R u, v⟩ = ⟨u, Rᵀ v⟩ between a pass's backward and forward-mode graphs:
 * the largest relative gap over K random seed / tangent pairs.
 */
import { Rng } from '../../src/methods/random.js';
import type { ModelRunner } from '../../src/runtime/runner.js';
import { randomArray } from './tiny-models.js';

export async function adjointGap(
  r: ModelRunner,
  key: string,
  pass: Parameters<ModelRunner['backward']>[1],
  x: Float32Array,
  K = 3,
  seed = 11,
): Promise<number> {
  const rng = new Rng(seed);
  const c = r.outputSize;
  const d = r.inputSize;
  const u = randomArray(rng, K * c);
  const v = randomArray(rng, K * d);
  const { attributions } = await r.backward(key, pass, x, 1, u, K);
  const prod = await r.forwardMode(key, pass, x, v, K);
  const gaps: number[] = [];
  for (let k = 0; k < K; k++) {
    let lhs = 0;
    let scale = 0;
    for (let i = 0; i < d; i++) {
      lhs += attributions[k * d + i] * v[k * d + i];
      scale += Math.abs(attributions[k * d + i] * v[k * d + i]);
    }
    let rhs = 0;
    for (let o = 0; o < c; o++) rhs += u[k * c + o] * prod[k * c + o];
    gaps.push(Math.abs(lhs - rhs) / scale);
  }
  return Math.max(...gaps);
}
