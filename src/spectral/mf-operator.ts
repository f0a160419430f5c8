/**
 * R as a linear operator for the matrix-free estimates (DESIGN §4): products R·V from batched
 * backward passes with seeds V and Rᵀ·U from batched forward-mode passes, for every method whose
 * attribution is linear in the seed.
 */
import type { Linearization, Method } from '../methods/types.js';
import { rowBytes } from '../runtime/memory.js';
import type { FeatureMode, InactivePolicy } from './redistribution.js';

/** The linear structure of R for one input (see Method.linearize), or a clear error for Shapley. */
export function linearizationOf(method: Method, x: Float32Array): Linearization {
  if (method.linearize) return method.linearize(x);
  const lp = method.linearPass;
  if (!lp)
    throw new Error(
      `matrix-free estimates need a method that is linear in the seed (lrp, gradient, gi, sg, ig), not ${method.name}`,
    );
  return {
    key: lp.key,
    pass: lp.pass,
    points: x,
    batch: 1,
    weights: [1],
    factor: lp.timesInput ? x : undefined,
  };
}

/** R as an operator on blocks: apply(V: k×c) → k×d, applyT(U: k×d) → k×c (row-major). */
export async function redistributionOperator(
  method: Method,
  x: Float32Array,
  features: FeatureMode,
  inactive: InactivePolicy,
) {
  const lin = linearizationOf(method, x);
  const runner = method.runner;
  const c = runner.outputSize;
  const D = runner.inputSize;
  const shape = runner.model.inputShape;
  const C = shape.length === 3 ? shape[0] : 1;
  const pixels = features === 'pixels' && C > 1;
  const d = pixels ? D / C : D;
  if (inactive === 'drop') throw new Error('matrix-free estimates support --inactive zero or keep');
  const f = Array.from(await runner.forward(x, 1, { passKey: lin.key, pass: lin.pass }));
  // column scale: 1/f_k for divided methods, 0 for inactive outputs under 'zero'
  const scale = f.map((v) => (inactive === 'zero' && v <= 0 ? 0 : method.divideByOutput ? 1 / v : 1));
  if (inactive === 'keep' && method.divideByOutput) {
    f.forEach((v, k) => {
      if (Math.abs(v) < 1e-12) throw new Error(`output ${k} is ${v}: |f_k| < 1e-12, cannot divide`);
    });
  }
  const B = lin.batch;
  const fac = lin.factor;
  // seeds (tangents) per call: as many as the run share of the budget holds as float32 outputs
  // (B·k·D values) — the runner itself splits each call into runs of one input × several seeds,
  // so one forward pass per noisy copy / path point serves several seeds (one seed per call, as
  // before, recomputed SmoothGrad's and IG's forward passes for every seed)
  const chunkOf = (kind: 'backward' | 'forward-mode') =>
    Math.max(1, Math.floor((runner.rowsPerRun(kind) * rowBytes(runner.memory, kind)) / (2 * 4 * B * D)));
  let seeds = 0;
  let tangents = 0;
  return {
    d,
    c,
    batch: B,
    outputs: f,
    /**
     * a-priori column weight |1/f_k| (0 for inactive outputs under 'zero'), for every method: a
     * column's norm grows like 1/|f_k| also where R is not divided by f_k — LRP's relevance of the
     * seed e_k is amplified by 1/z_k on its way down (VGG16: log column norm vs log 1/f_k
     * correlate at 0.997)
     */
    weight: f.map((v) => (inactive === 'zero' && v <= 0 ? 0 : v === 0 ? Number.MAX_VALUE : 1 / Math.abs(v))),
    counts: () => ({ seeds, tangents }),
    async apply(V: Float64Array, k: number): Promise<Float64Array> {
      const out = new Float64Array(k * d);
      const chunk = chunkOf('backward');
      for (let j0 = 0; j0 < k; j0 += chunk) {
        const nk = Math.min(chunk, k - j0);
        const s = new Float32Array(nk * c);
        for (let q = 0; q < nk * c; q++) s[q] = V[j0 * c + q] * scale[q % c];
        const { attributions: a } = await runner.backward(lin.key, lin.pass, lin.points, B, s, nk);
        for (let b = 0; b < B; b++) {
          const w = lin.weights[b];
          if (w === 0) continue;
          for (let j = 0; j < nk; j++) {
            const src = (b * nk + j) * D;
            const dst = (j0 + j) * d;
            for (let e = 0; e < D; e++)
              out[dst + (pixels ? e % d : e)] += w * a[src + e] * (fac ? fac[e] : 1);
          }
        }
      }
      seeds += k;
      return out;
    },
    async applyT(U: Float64Array, k: number): Promise<Float64Array> {
      const out = new Float64Array(k * c);
      const chunk = chunkOf('forward-mode');
      for (let j0 = 0; j0 < k; j0 += chunk) {
        const nk = Math.min(chunk, k - j0);
        const t = new Float32Array(nk * D);
        for (let j = 0; j < nk; j++)
          for (let e = 0; e < D; e++)
            t[j * D + e] = U[(j0 + j) * d + (pixels ? e % d : e)] * (fac ? fac[e] : 1);
        const p = await runner.forwardModeBatch(lin.key, lin.pass, lin.points, B, t, nk);
        for (let b = 0; b < B; b++) {
          const w = lin.weights[b];
          for (let q = 0; q < nk * c; q++) out[j0 * c + q] += w * p[b * nk * c + q] * scale[q % c];
        }
      }
      tangents += k;
      return out;
    },
  };
}

export type RedistributionOperator = Awaited<ReturnType<typeof redistributionOperator>>;
