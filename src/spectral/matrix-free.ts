/**
 * Matrix-free spectral estimates (DESIGN §4): σ1 and ‖R‖_F from products R·V (batched backward
 * passes with seeds V) and Rᵀ·U (batched forward-mode passes), without forming R, for every
 * method whose attribution is linear in the seed: gradient, G×I and LRP (one pass at x), and
 * SmoothGrad and IG (a weighted sum of gradient passes at the noisy copies / path points, times
 * an element-wise factor — so Rᵀu is the same weighted sum of forward-mode passes).
 *
 * Adaptive: it stops as soon as the requested accuracy is certified.
 * - σ1: block subspace iteration on RᵀR with a Rayleigh-Ritz step after every iteration. The Ritz
 *   value σ̃ is a lower bound of σ1, and with u = Rv/σ̃ the residual r = ‖Rᵀu − σ̃v‖ puts a singular
 *   value of R in [σ̃ − r, σ̃ + r]. The upper end tightens quadratically by the Kato-Temple
 *   inequality for A = RᵀR (Rayleigh quotient σ̃², residual σ̃·r): λ1 ≤ σ̃² + σ̃²r²/(σ̃² − λ̂2), where
 *   λ̂2 = θ2 + (‖R‖_F²)⁺ − ‖RV‖_F² bounds λ2 from above (θ2: second Ritz value; a unit x ⊥ v splits
 *   into a part in span(V), where ‖Rx‖² ≤ θ2, and a part outside, where ‖Rx‖² ≤ ‖R(I − VVᵀ)‖_F²),
 *   with (‖R‖_F²)⁺ the upper end of the ‖R‖_F interval — so this bound is certified at that
 *   interval's confidence, the linear one deterministically. The reported interval [σ̃, σ̃ + …] is
 *   σ1's once the Ritz pair is the top one (the start block makes missing it improbable: random
 *   directions plus the unit vectors of the columns with the largest weight |1/f_k|, which carry
 *   most of R's energy when some outputs are near zero — VGG16: the 8 smallest positive logits'
 *   columns hold 97 % of ‖R‖_F²). Stops when the tighter bound is within tolSigma1·σ̃.
 * - ‖R‖_F²: Hutch++-style: the exact part ‖R Vᵀ‖_F² on the Ritz subspace plus a Hutchinson
 *   estimate (Rademacher probes, in batches) of the deflated remainder; the interval is ± z
 *   standard errors of that mean (z = 3, widened to Student's t for few probes), clipped below
 *   by the exact part. Probes are stored as (ε, Rε) and deflated against whichever span is
 *   current, so the early ones (taken for the quadratic bound) count for the final estimate too.
 *   Stops when its half width is ≤ tolFrobenius·‖R‖_F.
 * When the block covers all c outputs, or when continuing would cost more passes than forming R,
 * it computes R·I exactly (error 0).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Rng } from '../methods/random.js';
import type { Linearization, Method } from '../methods/types.js';
import { rowBytes } from '../runtime/memory.js';
import type { FeatureMode, InactivePolicy } from './redistribution.js';

export interface MatrixFreeOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
  /** block size of the subspace iteration (default 6; ≥ c: exact) */
  block?: number;
  /** most subspace iterations (default 30) */
  iterations?: number;
  /** Hutchinson probes per batch (default 4; at least two batches are run) */
  probes?: number;
  /** most Hutchinson probes in all (default 256) */
  maxProbes?: number;
  /** relative accuracy of σ1 to certify from the Ritz residual (default 1e-2; 0: run all iterations) */
  tolSigma1?: number;
  /** relative accuracy of ‖R‖_F to certify from the Hutchinson standard error (default 2e-2) */
  tolFrobenius?: number;
  /** width of the ‖R‖_F interval in standard errors (default 3) */
  z?: number;
  seed?: number;
}

export interface MatrixFreeEstimate {
  sigma1: number;
  /** ‖Rᵀu1 − σ1 v1‖: σ1 lies within this of a singular value of R */
  sigma1Residual: number;
  /** certified interval of σ1: [Ritz value, Ritz value + residual] */
  sigma1Bounds: [number, number];
  frobenius: number;
  /** standard error of the ‖R‖_F estimate (0 when exact) */
  frobeniusStdErr: number;
  /** ‖R‖_F ± z standard errors, clipped below by the exact Ritz-subspace part */
  frobeniusBounds: [number, number];
  ssm: number;
  /** SSM interval from the two intervals above */
  ssmBounds: [number, number];
  /** Ritz values (estimates of the top singular values, descending) */
  ritzValues: number[];
  /** the Ritz vectors of R (u: d, v: c per value), for spectral decompositions */
  ritzVectors?: { u: Float64Array[]; v: Float64Array[] };
  exact: boolean;
  /** whether each requested accuracy was reached (true when exact) */
  certified: { sigma1: boolean; frobenius: boolean };
  iterations: number;
  probesUsed: number;
  /** seeds of backward passes and tangents of forward-mode passes (each costs `batch` rows) */
  backwardSeeds: number;
  forwardModeTangents: number;
  /** rows actually run: seeds × the method's inputs per seed (1, n noisy copies, m path points) */
  backwardRows: number;
  forwardModeRows: number;
  outputs: number[];
  options: Required<Omit<MatrixFreeOptions, 'features' | 'inactive'>> & {
    features: FeatureMode;
    inactive: InactivePolicy;
  };
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

/** Orthonormalise the k rows (each of length n) by modified Gram-Schmidt; returns the rank kept. */
function orthonormalRows(A: Float64Array, k: number, n: number): number {
  let r = 0;
  for (let j = 0; j < k; j++) {
    const row = A.subarray(j * n, (j + 1) * n);
    for (let pass = 0; pass < 2; pass++) {
      // twice is enough (Kahan's "twice is enough"): keeps the basis orthogonal to 1e-15
      for (let i = 0; i < r; i++) {
        const prev = A.subarray(i * n, (i + 1) * n);
        let dot = 0;
        for (let q = 0; q < n; q++) dot += row[q] * prev[q];
        for (let q = 0; q < n; q++) row[q] -= dot * prev[q];
      }
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

/** Gram matrix of k rows of length n */
function rowGram(W: Float64Array, k: number, n: number): number[][] {
  const G = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      const a = i * n;
      const b = j * n;
      for (let q = 0; q < n; q++) s += W[a + q] * W[b + q];
      G[i][j] = s;
      G[j][i] = s;
    }
  return G;
}

/** Eigen-pairs of a small symmetric matrix, descending */
function eigDesc(G: number[][]): { values: number[]; vectors: number[][] } {
  const e = new EigenvalueDecomposition(new Matrix(G), { assumeSymmetric: true });
  const order = e.realEigenvalues.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  return {
    values: order.map(([v]) => Math.max(v, 0)),
    vectors: order.map(([, i]) => Array.from({ length: G.length }, (_, j) => e.eigenvectorMatrix.get(j, i))),
  };
}

/**
 * Student-t quantile with ν degrees of freedom at the normal quantile z (Cornish-Fisher
 * expansion; ν = 7, z = 3: 4.5 against the exact 4.8): the standard error of a few probes is
 * itself uncertain, so the interval widens for small probe counts.
 */
export function tQuantile(z: number, nu: number): number {
  const z3 = z ** 3;
  const z5 = z ** 5;
  return (
    z +
    (z3 + z) / (4 * nu) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * nu ** 2) +
    (3 * z ** 7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu ** 3)
  );
}

/** Σ_j y_j · rows_j (rows of length n) */
function combine(rows: Float64Array, y: number[], n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  y.forEach((w, j) => {
    if (w === 0) return;
    for (let q = 0; q < n; q++) out[q] += (w * rows[j * n + q]) / scale;
  });
  return out;
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
  const b = Math.max(1, Math.min(opts.block ?? 6, c));
  const maxIterations = opts.iterations ?? 30;
  const probeBatch = Math.max(2, opts.probes ?? 4);
  const maxProbes = Math.max(probeBatch, opts.maxProbes ?? 256);
  const tolSigma1 = opts.tolSigma1 ?? 1e-2;
  const tolFrobenius = opts.tolFrobenius ?? 2e-2;
  const z = opts.z ?? 3;
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  const options = {
    block: b,
    iterations: maxIterations,
    probes: probeBatch,
    maxProbes,
    tolSigma1,
    tolFrobenius,
    z,
    seed,
    features,
    inactive,
  };
  const spent = () => op.counts().seeds + op.counts().tangents;
  const finish = (
    e: Omit<
      MatrixFreeEstimate,
      'backwardRows' | 'forwardModeRows' | 'options' | 'outputs' | 'backwardSeeds' | 'forwardModeTangents'
    >,
  ) => {
    const { seeds, tangents } = op.counts();
    if (!(e.sigma1 > 0))
      throw new Error(`σ1 of R is ${e.sigma1}: R has no non-zero singular value (all outputs inactive?)`);
    return {
      ...e,
      backwardSeeds: seeds,
      forwardModeTangents: tangents,
      backwardRows: seeds * op.batch,
      forwardModeRows: tangents * op.batch,
      outputs: op.outputs,
      options,
    };
  };
  // exact: R·I, the Gram matrix of its c columns, all singular values
  const exactly = async (iterations: number, probesUsed: number): Promise<MatrixFreeEstimate> => {
    const I = new Float64Array(c * c);
    for (let j = 0; j < c; j++) I[j * c + j] = 1;
    const W = await op.apply(I, c);
    const { values, vectors } = eigDesc(rowGram(W, c, d));
    const sv = values.map(Math.sqrt);
    const frobenius = Math.sqrt(values.reduce((a, v) => a + v, 0));
    const m = Math.min(8, c);
    return finish({
      sigma1: sv[0],
      sigma1Residual: 0,
      sigma1Bounds: [sv[0], sv[0]],
      frobenius,
      frobeniusStdErr: 0,
      frobeniusBounds: [frobenius, frobenius],
      ssm: frobenius / sv[0],
      ssmBounds: [frobenius / sv[0], frobenius / sv[0]],
      ritzValues: sv.slice(0, m),
      ritzVectors: {
        u: vectors.slice(0, m).map((y, i) => combine(W, y, d, sv[i] || 1)),
        v: vectors.slice(0, m).map((y) => Float64Array.from(y)),
      },
      exact: true,
      certified: { sigma1: true, frobenius: true },
      iterations,
      probesUsed,
    });
  };
  // a block of (nearly) c columns costs as much as R itself
  if (2 * b >= c) return exactly(0, 0);
  let V: Float64Array = new Float64Array(b * c);
  for (let q = 0; q < V.length; q++) V[q] = rng.normal();
  // start on the columns of largest weight (see the header); the rest of the block stays random
  for (const [j, k] of largestWeightColumns(op.weight, Math.floor((2 * b) / 3)).entries()) {
    V.fill(0, j * c, (j + 1) * c);
    V[j * c + k] = 1;
  }
  let r = orthonormalRows(V, b, c);
  let W: Float64Array = new Float64Array(0);
  // the block W = R·VWᵀ was computed from (V moves on after a non-converged iteration)
  let VW = V;
  let rW = r;
  let ritz: { values: number[]; vectors: number[][] } = { values: [], vectors: [] };
  let residual = Number.POSITIVE_INFINITY;
  let upper = Number.POSITIVE_INFINITY;
  let iterations = 0;
  let frob: Frobenius | undefined;
  const normSq = (a: Float64Array) => a.reduce((acc, v) => acc + v * v, 0);
  // ‖R‖_F² = ‖R Pᵀ‖² on the current span (exact: ‖W‖_F²) + a Hutchinson estimate of ‖R(I − P)‖_F².
  // The probes are kept as raw pairs (ε, Rε) and deflated after the fact, R(I − P)ε = Rε − Wᵀ(Vε),
  // so every probe serves every later span: the span is computed without them, hence each
  // deflated probe is an unbiased sample for whichever span comes last, and none is wasted when
  // the subspace iteration moves on.
  const probes: { eps: Float64Array; reps: Float64Array }[] = [];
  const addProbes = async (n: number): Promise<boolean> => {
    if (spent() + n >= c) return false;
    const Gs = new Float64Array(n * c);
    for (let q = 0; q < Gs.length; q++) Gs[q] = rng.uniform() < 0.5 ? -1 : 1;
    const RG = await op.apply(Gs, n);
    for (let p = 0; p < n; p++)
      probes.push({ eps: Gs.slice(p * c, (p + 1) * c), reps: RG.slice(p * d, (p + 1) * d) });
    return true;
  };
  // the estimate on span(V) (rank rows of length c, orthonormal) with Wspan = R·Vᵀ (rank × d)
  const frobeniusOn = (span: Float64Array, rank: number, Wspan: Float64Array): Frobenius => {
    const inSpace = normSq(Wspan.subarray(0, rank * d));
    if (rank >= c || probes.length < 2)
      return {
        frobenius: Math.sqrt(inSpace),
        bounds: [Math.sqrt(inSpace), Number.POSITIVE_INFINITY],
        seMean: 0,
        probesUsed: probes.length,
        certified: rank >= c,
      };
    const vals = probes.map(({ eps, reps }) => {
      const r = Float64Array.from(reps);
      for (let j = 0; j < rank; j++) {
        let y = 0;
        for (let q = 0; q < c; q++) y += span[j * c + q] * eps[q];
        for (let e = 0; e < d; e++) r[e] -= y * Wspan[j * d + e];
      }
      return normSq(r);
    });
    const mean = vals.reduce((acc, v) => acc + v, 0) / vals.length;
    const sd = Math.sqrt(vals.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (vals.length - 1));
    const seMean = sd / Math.sqrt(vals.length);
    const frobenius = Math.sqrt(inSpace + mean);
    const half = tQuantile(z, vals.length - 1) * seMean;
    const bounds: [number, number] = [
      Math.sqrt(Math.max(inSpace, inSpace + mean - half)),
      Math.sqrt(inSpace + mean + half),
    ];
    const rel = Math.max(bounds[1] - frobenius, frobenius - bounds[0]) / frobenius;
    return {
      frobenius,
      bounds,
      seMean,
      probesUsed: vals.length,
      certified: vals.length >= 2 * probeBatch && rel <= tolFrobenius,
    };
  };
  while (iterations < maxIterations) {
    if (spent() + 2 * r >= c) return exactly(iterations, probes.length);
    W = await op.apply(V, r);
    VW = V;
    rW = r;
    const Z = await op.applyT(W, r);
    iterations++;
    // Rayleigh-Ritz on span(V): V RᵀR Vᵀ = W Wᵀ; the residual of the top pair comes from Z = RᵀW
    ritz = eigDesc(rowGram(W, r, d));
    const s1 = Math.sqrt(ritz.values[0]);
    if (s1 > 0) {
      const y = ritz.vectors[0];
      const v1 = combine(VW, y, c);
      const rtu = combine(Z, y, c, s1);
      residual = Math.sqrt(rtu.reduce((a, v, q) => a + (v - s1 * v1[q]) ** 2, 0));
    } else residual = 0;
    upper = s1 + residual;
    if (residual <= tolSigma1 * s1) break;
    // the quadratic bound needs ‖R‖_F's upper end: a few probes once (up to 4 batches, fewer when
    // ‖R‖_F is certified sooner), re-deflated on every later span at no cost
    if (probes.length === 0) {
      do {
        if (!(await addProbes(probeBatch))) return exactly(iterations, probes.length);
        frob = frobeniusOn(VW, rW, W);
      } while (!frob.certified && probes.length < Math.min(maxProbes, 4 * probeBatch));
    } else frob = frobeniusOn(VW, rW, W);
    upper = Math.min(
      upper,
      katoTempleUpper(s1, residual, ritz.values[1] ?? 0, frob.bounds[1] ** 2 - normSq(W)),
    );
    if (upper - s1 <= tolSigma1 * s1) break;
    V = Z;
    r = orthonormalRows(V, r, c);
    if (r === 0) break;
  }
  // ‖R‖_F on the final span from every probe so far, more batches until it is certified
  frob = frobeniusOn(VW, rW, W);
  while (!frob.certified && probes.length < maxProbes) {
    if (!(await addProbes(probes.length < probeBatch ? 2 * probeBatch : probeBatch)))
      return exactly(iterations, probes.length);
    frob = frobeniusOn(VW, rW, W);
  }
  const sv = ritz.values.map(Math.sqrt);
  const sigma1 = sv[0];
  const { frobenius, bounds, seMean } = frob;
  const y = ritz.vectors;
  const s1Bounds: [number, number] = [sigma1, upper];
  return finish({
    sigma1,
    sigma1Residual: residual,
    sigma1Bounds: s1Bounds,
    frobenius,
    frobeniusStdErr: frobenius > 0 ? seMean / (2 * frobenius) : 0,
    frobeniusBounds: bounds,
    ssm: frobenius / sigma1,
    ssmBounds: [bounds[0] / s1Bounds[1], bounds[1] / s1Bounds[0]],
    ritzValues: sv,
    ritzVectors: {
      u: y.map((yy, i) => combine(W, yy, d, sv[i] || 1)),
      v: y.map((yy) => combine(VW, yy, c)),
    },
    exact: false,
    certified: { sigma1: upper - sigma1 <= tolSigma1 * sigma1, frobenius: frob.certified },
    iterations,
    probesUsed: frob.probesUsed,
  });
}

interface Frobenius {
  frobenius: number;
  bounds: [number, number];
  /** standard error of the Hutchinson mean (of ‖R(I − VVᵀ)g‖²) */
  seMean: number;
  probesUsed: number;
  certified: boolean;
}

/**
 * Kato-Temple upper bound of σ1 from the top Ritz value σ̃, its residual r = ‖Rᵀu − σ̃v‖, the
 * second Ritz value θ2 (of RᵀR) and an upper bound of ‖R(I − VVᵀ)‖_F² (see the header);
 * +∞ when the bound on λ2 does not separate it from σ̃².
 */
export function katoTempleUpper(s1: number, residual: number, theta2: number, outsideSq: number): number {
  const lambda2 = theta2 + Math.max(0, outsideSq);
  const gap = s1 * s1 - lambda2;
  if (!(gap > 0)) return Number.POSITIVE_INFINITY;
  return Math.sqrt(s1 * s1 + (s1 * residual) ** 2 / gap);
}

/** the k active columns with the largest weight (none when all weights are equal) */
function largestWeightColumns(weight: number[], k: number): number[] {
  const abs = weight.map(Math.abs);
  const active = abs.map((v, i) => [v, i]).filter(([v]) => v > 0);
  if (active.length === 0 || active.every(([v]) => v === active[0][0])) return [];
  return active
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}
