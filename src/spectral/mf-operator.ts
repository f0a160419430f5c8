/**
 * R as a linear operator for the matrix-free estimates (DESIGN §4): products R·V from batched
 * backward passes with seeds V and Rᵀ·U from batched forward-mode passes, for every method whose
 * attribution is linear in the seed.
 */
import type { Rng } from '../methods/random.js';
import type { Linearization, Method } from '../methods/types.js';
import type { SeedScaling } from '../propagate/compile.js';
import { rowBytes } from '../runtime/memory.js';
import type { FeatureMode, InactivePolicy } from './redistribution.js';

/** A Hutchinson probe kept raw: ε (c, Rademacher on every output) and Rε (d) */
export interface Probe {
  eps: Float64Array;
  reps: Float64Array;
}

/** n·c Rademacher signs, drawn in order */
export function rademacher(rng: Rng, length: number): Float64Array {
  const v = new Float64Array(length);
  for (let q = 0; q < length; q++) v[q] = rng.uniform() < 0.5 ? -1 : 1;
  return v;
}

/** n probes from their signs ε (n × c) and products Rε (n × d), row-major */
export function splitProbes(eps: Float64Array, reps: Float64Array, n: number, c: number, d: number): Probe[] {
  return Array.from({ length: n }, (_, p) => ({
    eps: eps.slice(p * c, (p + 1) * c),
    reps: reps.slice(p * d, (p + 1) * d),
  }));
}

/** Hutchinson probes to take while the operator is made (see redistributionOperator) */
export interface FirstProbes {
  n: number;
  rng: Rng;
  /** receives the probes */
  into: Probe[];
}

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

/**
 * R as an operator on blocks: apply(V: k×c) → k×d, applyT(U: k×d) → k×c (row-major).
 *
 * Its columns are scaled by the outputs f (1/f_k, or 0 for inactive outputs), so f comes first.
 * `first` (optional): Hutchinson probes taken in the same go. For a method with one pass point
 * (gradient, G×I, LRP), they run before f is known, each run scaling its seeds by its own
 * outputs (SeedScaling: the same float32 seeds as scaling them on the host, bitwise), and the
 * first run's outputs are f: one forward pass less (VGG16: 0.44 s of a 6.6 s estimate). Other
 * methods take f from a forward pass, then the probes.
 */
export async function redistributionOperator(
  method: Method,
  x: Float32Array,
  features: FeatureMode,
  inactive: InactivePolicy,
  first?: FirstProbes,
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
  const B = lin.batch;
  const fac = lin.factor;
  /** attributions a [B, nk, D] of seeds j0… → rows j0… of out (k × d): weighted over the pass points, times the factor, summed over channels for pixels */
  const accumulate = (out: Float64Array, a: Float32Array, j0: number, nk: number) => {
    for (let b = 0; b < B; b++) {
      const w = lin.weights[b];
      if (w === 0) continue;
      for (let j = 0; j < nk; j++) {
        const src = (b * nk + j) * D;
        const dst = (j0 + j) * d;
        for (let e = 0; e < D; e++) out[dst + (pixels ? e % d : e)] += w * a[src + e] * (fac ? fac[e] : 1);
      }
    }
  };
  const scaling: SeedScaling = { divide: method.divideByOutput, zeroInactive: inactive === 'zero' };
  let seeds = 0;
  let f: number[];
  if (first && first.n > 0 && B === 1) {
    const eps = rademacher(first.rng, first.n * c);
    const run = await runner.backward(
      lin.key,
      lin.pass,
      lin.points,
      1,
      Float32Array.from(eps),
      first.n,
      scaling,
    );
    f = Array.from(run.logits);
    const reps = new Float64Array(first.n * d);
    accumulate(reps, run.attributions, 0, first.n);
    first.into.push(...splitProbes(eps, reps, first.n, c, d));
    seeds += first.n;
  } else f = Array.from(await runner.forward(x, 1, { passKey: lin.key, pass: lin.pass }));
  // column scale: 1/f_k for divided methods, 0 for inactive outputs under 'zero' (as SeedScaling)
  const scale = f.map((v) => (scaling.zeroInactive && v <= 0 ? 0 : scaling.divide ? 1 / v : 1));
  if (inactive === 'keep' && method.divideByOutput) {
    f.forEach((v, k) => {
      if (Math.abs(v) < 1e-12) throw new Error(`output ${k} is ${v}: |f_k| < 1e-12, cannot divide`);
    });
  }
  // seeds (tangents) per call: as many as the run share of the budget holds as float32 outputs
  // (B·k·D values) — the runner itself splits each call into runs of one input × several seeds,
  // so one forward pass per noisy copy / path point serves several seeds (one seed per call, as
  // before, recomputed SmoothGrad's and IG's forward passes for every seed)
  const chunkOf = (kind: 'backward' | 'forward-mode') =>
    Math.max(1, Math.floor((runner.rowsPerRun(kind) * rowBytes(runner.memory, kind)) / (2 * 4 * B * D)));
  let tangents = 0;
  const op = {
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
        accumulate(out, a, j0, nk);
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
  if (first && first.n > 0 && B > 1) {
    const eps = rademacher(first.rng, first.n * c);
    first.into.push(...splitProbes(eps, await op.apply(eps, first.n), first.n, c, d));
  }
  return op;
}

export type RedistributionOperator = Awaited<ReturnType<typeof redistributionOperator>>;
