/**
 * Matrix-free spectral estimates (DESIGN §4): σ1 and ‖R‖_F from products R·V (one batched
 * backward pass with seeds V) and Rᵀ·U (one batched forward-mode pass), without forming R.
 *
 * - σ1: block subspace iteration on RᵀR with a Rayleigh-Ritz step; the Ritz value is a lower
 *   bound of σ1 and the residual ‖Rᵀu − σv‖ bounds its distance to a singular value.
 * - ‖R‖_F²: Hutch++-style: the exact part ‖R Q‖_F² on the Ritz subspace Q plus a Hutchinson
 *   estimate (Rademacher probes) of the deflated remainder, with its standard error.
 * When the block covers all c outputs the results are exact (error 0).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Rng } from '../methods/random.js';
import type { Method } from '../methods/types.js';
import type { FeatureMode, InactivePolicy } from './redistribution.js';

export interface MatrixFreeOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
  block?: number;
  iterations?: number;
  probes?: number;
  seed?: number;
}

export interface MatrixFreeEstimate {
  sigma1: number;
  /** ‖Rᵀu1 − σ1 v1‖: σ1 lies within this of a singular value of R */
  sigma1Residual: number;
  frobenius: number;
  /** standard error of the ‖R‖_F estimate (0 when exact) */
  frobeniusStdErr: number;
  ssm: number;
  exact: boolean;
  backwardSeeds: number;
  forwardModeTangents: number;
  options: Required<Omit<MatrixFreeOptions, 'features' | 'inactive'>> & {
    features: FeatureMode;
    inactive: InactivePolicy;
  };
}

/** R as an operator on blocks: apply(V: k×c) → k×d, applyT(U: k×d) → k×c (row-major). */
export async function redistributionOperator(
  method: Method,
  x: Float32Array,
  features: FeatureMode,
  inactive: InactivePolicy,
) {
  const lp = method.linearPass;
  if (!lp)
    throw new Error(
      `matrix-free estimates need a method with a forward-mode transpose (lrp, gradient, gi), not ${method.name}`,
    );
  const runner = method.runner;
  const c = runner.outputSize;
  const D = runner.inputSize;
  const shape = runner.model.inputShape;
  const C = shape.length === 3 ? shape[0] : 1;
  const pixels = features === 'pixels' && C > 1;
  const d = pixels ? D / C : D;
  const f = Array.from(await runner.forward(x, 1));
  if (inactive === 'drop') throw new Error('matrix-free estimates support --inactive zero or keep');
  // column scale: 1/f_k for divided methods, 0 for inactive outputs under 'zero'
  const scale = f.map((v) => (inactive === 'zero' && v <= 0 ? 0 : method.divideByOutput ? 1 / v : 1));
  if (inactive === 'keep' && method.divideByOutput) {
    f.forEach((v, k) => {
      if (Math.abs(v) < 1e-12) throw new Error(`output ${k} is ${v}: |f_k| < 1e-12, cannot divide`);
    });
  }
  let seeds = 0;
  let tangents = 0;
  return {
    d,
    c,
    outputs: f,
    counts: () => ({ seeds, tangents }),
    async apply(V: Float64Array, k: number): Promise<Float64Array> {
      const s = new Float32Array(k * c);
      for (let q = 0; q < k * c; q++) s[q] = V[q] * scale[q % c];
      const { attributions: a } = await runner.backward(lp.key, lp.pass, x, 1, s, k);
      seeds += k;
      const out = new Float64Array(k * d);
      for (let j = 0; j < k; j++)
        for (let e = 0; e < D; e++)
          out[j * d + (pixels ? e % d : e)] += a[j * D + e] * (lp.timesInput ? x[e] : 1);
      return out;
    },
    async applyT(U: Float64Array, k: number): Promise<Float64Array> {
      const t = new Float32Array(k * D);
      for (let j = 0; j < k; j++)
        for (let e = 0; e < D; e++)
          t[j * D + e] = U[j * d + (pixels ? e % d : e)] * (lp.timesInput ? x[e] : 1);
      const p = await runner.forwardMode(lp.key, lp.pass, x, t, k);
      tangents += k;
      const out = new Float64Array(k * c);
      for (let q = 0; q < k * c; q++) out[q] = p[q] * scale[q % c];
      return out;
    },
  };
}

/** Orthonormalise the k rows (each of length n) by modified Gram-Schmidt; returns the rank kept. */
function orthonormalRows(A: Float64Array, k: number, n: number): number {
  let r = 0;
  for (let j = 0; j < k; j++) {
    const row = A.subarray(j * n, (j + 1) * n);
    for (let i = 0; i < r; i++) {
      const prev = A.subarray(i * n, (i + 1) * n);
      let dot = 0;
      for (let q = 0; q < n; q++) dot += row[q] * prev[q];
      for (let q = 0; q < n; q++) row[q] -= dot * prev[q];
    }
    let norm = 0;
    for (const v of row) norm += v * v;
    norm = Math.sqrt(norm);
    if (norm < 1e-12) continue;
    const dst = A.subarray(r * n, (r + 1) * n);
    for (let q = 0; q < n; q++) dst[q] = row[q] / norm;
    r++;
  }
  return r;
}

export async function estimateSpectrum(
  method: Method,
  x: Float32Array,
  opts: MatrixFreeOptions = {},
): Promise<MatrixFreeEstimate> {
  const features = opts.features ?? 'pixels';
  const inactive = opts.inactive ?? 'zero';
  const op = await redistributionOperator(method, x, features, inactive);
  const { c, d } = op;
  const b = Math.min(opts.block ?? 8, c);
  const iterations = opts.iterations ?? 10;
  const probes = opts.probes ?? 16;
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  const exact = b === c;
  let V: Float64Array = new Float64Array(b * c);
  if (exact) for (let j = 0; j < c; j++) V[j * c + j] = 1;
  else for (let q = 0; q < V.length; q++) V[q] = rng.normal();
  let r = orthonormalRows(V, b, c);
  for (let it = 0; it < (exact ? 0 : iterations); it++) {
    const W = await op.apply(V, r);
    V = await op.applyT(W, r);
    r = orthonormalRows(V, r, c);
  }
  // Rayleigh-Ritz: W = R V (rows), eigen-decompose WᵀW restricted to span(V) = V RᵀR Vᵀ (r×r)
  const W = await op.apply(V, r);
  const G = Array.from({ length: r }, (_, i) =>
    Array.from({ length: r }, (_, j) => {
      let s = 0;
      for (let q = 0; q < d; q++) s += W[i * d + q] * W[j * d + q];
      return s;
    }),
  );
  const eig = new EigenvalueDecomposition(new Matrix(G), { assumeSymmetric: true });
  const lam = eig.realEigenvalues;
  const top = lam.indexOf(Math.max(...lam));
  const sigma1 = Math.sqrt(Math.max(lam[top], 0));
  // residual of the top Ritz pair: v1 = Σ_j y_j V_j, u1 = R v1 / σ1
  const y = Array.from({ length: r }, (_, j) => eig.eigenvectorMatrix.get(j, top));
  const u1 = new Float64Array(d);
  const v1 = new Float64Array(c);
  for (let j = 0; j < r; j++) {
    for (let q = 0; q < d; q++) u1[q] += (y[j] * W[j * d + q]) / sigma1;
    for (let q = 0; q < c; q++) v1[q] += y[j] * V[j * c + q];
  }
  const rt = await op.applyT(u1, 1);
  let res = 0;
  for (let q = 0; q < c; q++) res += (rt[q] - sigma1 * v1[q]) ** 2;
  // ‖R‖_F² = ‖R Vᵀ‖_F² (exact on the subspace) + E‖R (I − VᵀV) g‖² (Hutchinson, Rademacher g)
  let inSpace = 0;
  for (const v of W) inSpace += v * v;
  let mean = 0;
  let se = 0;
  if (!exact && r < c) {
    const Gs = new Float64Array(probes * c);
    for (let p = 0; p < probes; p++) {
      const g = Gs.subarray(p * c, (p + 1) * c);
      for (let q = 0; q < c; q++) g[q] = rng.uniform() < 0.5 ? -1 : 1;
      for (let j = 0; j < r; j++) {
        let dot = 0;
        for (let q = 0; q < c; q++) dot += g[q] * V[j * c + q];
        for (let q = 0; q < c; q++) g[q] -= dot * V[j * c + q];
      }
    }
    const RG = await op.apply(Gs, probes);
    const vals = Array.from({ length: probes }, (_, p) => {
      let s = 0;
      for (let q = 0; q < d; q++) s += RG[p * d + q] ** 2;
      return s;
    });
    mean = vals.reduce((a, v) => a + v, 0) / probes;
    const sd = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, probes - 1));
    se = sd / Math.sqrt(probes);
  }
  const fro2 = inSpace + mean;
  const frobenius = Math.sqrt(fro2);
  const { seeds, tangents } = op.counts();
  return {
    sigma1,
    sigma1Residual: Math.sqrt(res),
    frobenius,
    frobeniusStdErr: frobenius > 0 ? se / (2 * frobenius) : 0,
    ssm: frobenius / sigma1,
    exact,
    backwardSeeds: seeds,
    forwardModeTangents: tangents,
    options: { block: b, iterations, probes, seed, features, inactive },
  };
}
