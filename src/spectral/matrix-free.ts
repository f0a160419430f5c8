/**
 * Matrix-free spectral estimates (DESIGN §4): σ1 and ‖R‖_F from products R·V (batched backward
 * passes with seeds V) and Rᵀ·U (batched forward-mode passes), without forming R, for every
 * method whose attribution is linear in the seed: gradient, G×I and LRP (one pass at x), and
 * SmoothGrad and IG (a weighted sum of gradient passes at the noisy copies / path points, times
 * an element-wise factor — so Rᵀu is the same weighted sum of forward-mode passes).
 *
 * Adaptive: it stops as soon as the requested accuracy is certified. Two stages:
 * 1. "columns" (mf-columns.ts, the default start): the columns of largest weight |1/f_k| exactly,
 *    plus Hutchinson probes for the rest; σ1 from a perturbation bound of the column split and
 *    one forward-mode pass. It serves R whose energy sits in a few columns — every method on a
 *    classifier with outputs near 0 (VGG16: 12 backward + 1 forward-mode pass, against 14 + 6 for
 *    stage 2 at block 6, 16 + 8 at block 8).
 * 2. "subspace", when the weights do not predict the columns (or with `start: 'subspace'`):
 *    - σ1: block subspace iteration on RᵀR with a Rayleigh-Ritz step after every iteration. The
 *      Ritz value σ̃ is a lower bound of σ1, and with u = Rv/σ̃ the residual r = ‖Rᵀu − σ̃v‖ puts a
 *      singular value of R in [σ̃ − r, σ̃ + r]. The upper end tightens quadratically by the
 *      Kato-Temple inequality for A = RᵀR (Rayleigh quotient σ̃², residual σ̃·r):
 *      λ1 ≤ σ̃² + σ̃²r²/(σ̃² − λ̂2), where λ̂2 = θ2 + (‖R‖_F²)⁺ − ‖RV‖_F² bounds λ2 from above (θ2:
 *      second Ritz value; a unit x ⊥ v splits into a part in span(V), where ‖Rx‖² ≤ θ2, and a part
 *      outside, where ‖Rx‖² ≤ ‖R(I − VVᵀ)‖_F²), with (‖R‖_F²)⁺ the upper end of the ‖R‖_F
 *      interval — so this bound is certified at that interval's confidence, the linear one
 *      deterministically. The reported interval [σ̃, σ̃ + …] is σ1's once the Ritz pair is the top
 *      one (the start block makes missing it improbable: random directions plus the unit vectors
 *      of the columns with the largest weight). Stops when the tighter bound is within
 *      tolSigma1·σ̃.
 *    - ‖R‖_F²: Hutch++-style: the exact part ‖R Vᵀ‖_F² on the Ritz subspace plus a Hutchinson
 *      estimate (Rademacher probes, in batches) of the deflated remainder. Probes are stored as
 *      (ε, Rε) and deflated against whichever span is current, so the early ones (taken for the
 *      quadratic bound, or by stage 1) count for the final estimate too.
 * Both intervals of ‖R‖_F are ± z standard errors of a Hutchinson mean (z = 3, widened to
 * Student's t for few probes), clipped below by the exact part; they stop when the half width is
 * ≤ tolFrobenius·‖R‖_F. When 2·block ≥ c, or when the next step would take the passes spent to
 * c/2 (column stage) or c (subspace stage), it computes R·I exactly (error 0; the columns already
 * computed are not reused).
 */
import { Rng } from '../methods/random.js';
import type { Method } from '../methods/types.js';
import { columnStage, type Probe, weightOrder } from './mf-columns.js';
import { combine, eigDesc, orthonormalRows, rowGram } from './mf-linalg.js';
import { rademacher, redistributionOperator, splitProbes } from './mf-operator.js';
import { meanInterval } from './mf-stats.js';
import type { FeatureMode, InactivePolicy } from './redistribution.js';

export { linearizationOf, redistributionOperator } from './mf-operator.js';
export { tQuantile } from './mf-stats.js';

/** how the estimate starts (see the header); 'subspace' skips the column stage */
export type MatrixFreeStart = 'columns' | 'subspace';
export const MATRIX_FREE_STARTS: MatrixFreeStart[] = ['columns', 'subspace'];

export interface MatrixFreeOptions {
  features?: FeatureMode;
  inactive?: InactivePolicy;
  /** block size of the subspace iteration and columns per round of the column stage (default 8; ≥ c/2: exact) */
  block?: number;
  /** 'columns' (default: the column stage first) or 'subspace' (the subspace iteration only) */
  start?: MatrixFreeStart;
  /** most subspace iterations (default 30) */
  iterations?: number;
  /** Hutchinson probes per batch (default 4; ‖R‖_F is certified from one batch (column stage) or two (subspace stage) on) */
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
  /**
   * subspace stage: ‖Rᵀu1 − σ1 v1‖ (σ1 lies within this of a singular value of R); column stage:
   * the width of the σ1 interval; 0 when exact
   */
  sigma1Residual: number;
  /** certified interval of σ1 (subspace: [Ritz value, Kato-Temple/residual bound]; columns: see mf-columns.ts) */
  sigma1Bounds: [number, number];
  frobenius: number;
  /** standard error of the ‖R‖_F estimate (0 when exact) */
  frobeniusStdErr: number;
  /** ‖R‖_F ± z standard errors, clipped below by the exact Ritz-subspace part */
  frobeniusBounds: [number, number];
  ssm: number;
  /** SSM interval from the two intervals above */
  ssmBounds: [number, number];
  /**
   * Ritz values (estimates of the top singular values, descending); column stage: the singular
   * values of the computed columns R_S, lower bounds (the first can be below `sigma1` = ‖Rᵀu1‖)
   */
  ritzValues: number[];
  /** the Ritz vectors of R (u: d, v: c per value), for spectral decompositions */
  ritzVectors?: { u: Float64Array[]; v: Float64Array[] };
  exact: boolean;
  /** the stage that certified the estimate ('exact': R·I formed) */
  stage: 'columns' | 'subspace' | 'exact';
  /** outputs whose columns of R were computed exactly by the column stage (empty otherwise) */
  columns: number[];
  /** whether each requested accuracy was reached (true when exact) */
  certified: { sigma1: boolean; frobenius: boolean };
  /** subspace iterations, or rounds of the column stage */
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

export async function estimateSpectrum(
  method: Method,
  x: Float32Array,
  opts: MatrixFreeOptions = {},
): Promise<MatrixFreeEstimate> {
  const features = opts.features ?? 'pixels';
  const inactive = opts.inactive ?? 'zero';
  const c = method.runner.outputSize;
  const b = Math.max(1, Math.min(opts.block ?? 8, c));
  const start = opts.start ?? 'columns';
  if (!MATRIX_FREE_STARTS.includes(start))
    throw new Error(`matrix-free start "${start}" is not one of ${MATRIX_FREE_STARTS.join(', ')}`);
  const maxIterations = opts.iterations ?? 30;
  const probeBatch = Math.max(2, opts.probes ?? 4);
  const maxProbes = Math.max(probeBatch, opts.maxProbes ?? 256);
  const tolSigma1 = opts.tolSigma1 ?? 1e-2;
  const tolFrobenius = opts.tolFrobenius ?? 2e-2;
  const z = opts.z ?? 3;
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  // every probe (ε, Rε), shared by both stages (see the subspace stage's ‖R‖_F below); the column
  // stage's first batch is taken with the operator, when that round will run (not exact)
  const probes: Probe[] = [];
  const firstProbes = start === 'columns' && 2 * (b + probeBatch) < c ? probeBatch : 0;
  const op = await redistributionOperator(method, x, features, inactive, {
    n: firstProbes,
    rng,
    into: probes,
  });
  const { d } = op;
  const options = {
    block: b,
    start,
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
      stage: 'exact',
      columns: [],
      certified: { sigma1: true, frobenius: true },
      iterations,
      probesUsed,
    });
  };
  // a block of (nearly) c columns costs as much as R itself
  if (2 * b >= c) return exactly(0, 0);
  if (start === 'columns') {
    const cs = await columnStage(
      op,
      { block: b, probeBatch, maxProbes, tolSigma1, tolFrobenius, z },
      rng,
      probes,
      (n) => 2 * (spent() + n) < c,
    );
    if (cs === 'exact') return exactly(0, probes.length);
    if (cs !== 'subspace')
      return finish({
        sigma1: cs.sigma1,
        sigma1Residual: cs.sigma1Bounds[1] - cs.sigma1Bounds[0],
        sigma1Bounds: cs.sigma1Bounds,
        frobenius: cs.frobenius,
        frobeniusStdErr: cs.frobenius > 0 ? cs.seMean / (2 * cs.frobenius) : 0,
        frobeniusBounds: cs.frobeniusBounds,
        ssm: cs.frobenius / cs.sigma1,
        ssmBounds: [cs.frobeniusBounds[0] / cs.sigma1Bounds[1], cs.frobeniusBounds[1] / cs.sigma1Bounds[0]],
        ritzValues: cs.ritzValues,
        ritzVectors: cs.ritzVectors,
        exact: false,
        stage: 'columns',
        columns: cs.columns,
        certified: { sigma1: true, frobenius: true },
        iterations: cs.rounds,
        probesUsed: probes.length,
      });
  }
  let V: Float64Array = new Float64Array(b * c);
  for (let q = 0; q < V.length; q++) V[q] = rng.normal();
  // start on the columns of largest weight (see the header); the rest of the block stays random
  for (const [j, k] of weightOrder(op.weight)
    .slice(0, Math.floor((2 * b) / 3))
    .entries()) {
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
  // the subspace iteration moves on. (Probes handed over by the column stage are unbiased too,
  // but not given the hand-over, which a large estimate of the rest can trigger: they then lean
  // high — conservative for the Kato-Temple bound.)
  const addProbes = async (n: number): Promise<boolean> => {
    if (spent() + n >= c) return false;
    const Gs = rademacher(rng, n * c);
    probes.push(...splitProbes(Gs, await op.apply(Gs, n), n, c, d));
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
    const { mean, seMean, half } = meanInterval(vals, z);
    const frobenius = Math.sqrt(inSpace + mean);
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
    stage: 'subspace',
    columns: [],
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
