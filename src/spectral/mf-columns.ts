/**
 * Column-split stage of the matrix-free estimate (matrix-free.ts's header, "columns").
 *
 * R's columns are far from equal: a column's norm grows like its weight |1/f_k| (VGG16: the 8
 * outputs closest to 0 hold 97 % of ‖R‖_F²; for LRP, not divided by f_k, log column norm and
 * log 1/|f_k| still correlate at 0.997). So the stage computes the columns S of largest weight
 * exactly (one backward pass each, unit seeds) and bounds what the others add:
 *   - ‖R‖_F² = ‖R_S‖_F² (exact) + ‖R_S̄‖_F², the second a Hutchinson mean over Rademacher probes ε
 *     on all c outputs, each deflated by the known columns: R_S̄ ε_S̄ = Rε − R_S ε_S. The probes
 *     do not depend on S, so every probe stays valid as S grows (and for the subspace stage).
 *   - σ1: RRᵀ = R_S R_Sᵀ + R_S̄ R_S̄ᵀ. With (θ1, u1), θ2 the top two singular values of R_S, any unit
 *     x = a·u1 + b·w (w ⊥ u1) has ‖Rᵀx‖² ≤ a²θ1² + b²θ2² + (|a|·√β1 + |b|·√β)² where
 *     β1 = ‖R_S̄ᵀu1‖² and β ≥ ‖R_S̄‖_2² (‖R_Sᵀx‖² has no cross term, since R_SR_Sᵀu1 = θ1²u1, and
 *     ‖R_S̄ᵀx‖ ≤ |a|·‖R_S̄ᵀu1‖ + |b|·‖R_S̄ᵀw‖ by the triangle inequality), so σ1² ≤ λmax of the 2×2 matrix
 *     [[θ1² + β1, √(β1β)], [√(β1β), θ2² + β]]; and σ1 ≥ ‖Rᵀu1‖ = √(θ1² + β1) ≥ θ1. β is the upper
 *     end of the ‖R_S̄‖_F² interval (never below β1), so the upper end holds at its confidence; β1 comes exactly from
 *     one forward-mode pass Rᵀu1, taken only once everything else is certified (the probes' samples
 *     (u1ᵀR_S̄ε)² estimate it for free, which steers the rounds, but a few Rademacher samples can
 *     agree by chance: certifying from them missed σ1 in 3 of 20 seeds in the tests).
 * Each round adds columns (when σ1 is not certified, or when they promise to shrink the ‖R‖_F
 * interval more than probes: their share of the remaining Σ w_k²) or a batch of probes. The stage
 * gives up — the subspace iteration takes over, with the probes — when the columns hold less
 * energy than the estimated rest (weights that do not predict the columns), or when the σ1
 * interval is wider than 4 × tolSigma1 (a second singular value close to σ1).
 */
import type { Rng } from '../methods/random.js';
import { combine, eigDesc, rowGram } from './mf-linalg.js';
import { type Probe, type RedistributionOperator, rademacher, splitProbes } from './mf-operator.js';
import { meanInterval, tQuantile } from './mf-stats.js';

export type { Probe };

export interface ColumnStageOptions {
  /** columns per round */
  block: number;
  probeBatch: number;
  maxProbes: number;
  tolSigma1: number;
  tolFrobenius: number;
  z: number;
}

export interface ColumnStageResult {
  sigma1: number;
  sigma1Bounds: [number, number];
  frobenius: number;
  frobeniusBounds: [number, number];
  seMean: number;
  /** singular values of R_S (descending) and its singular vectors (v embedded in the c outputs) */
  ritzValues: number[];
  ritzVectors: { u: Float64Array[]; v: Float64Array[] };
  columns: number[];
  rounds: number;
}

/**
 * Rademacher probes on all c outputs, run together with the unit seeds of `cols` in one call (one
 * forward pass per run serves both); returns the columns R·e_k.
 */
async function columnsAndProbes(
  op: RedistributionOperator,
  cols: number[],
  nProbes: number,
  rng: Rng,
  probes: Probe[],
): Promise<Float64Array> {
  const { c, d } = op;
  const n = cols.length + nProbes;
  const V = new Float64Array(n * c);
  cols.forEach((k, j) => {
    V[j * c + k] = 1;
  });
  V.set(rademacher(rng, nProbes * c), cols.length * c);
  const out = await op.apply(V, n);
  const k = cols.length;
  probes.push(...splitProbes(V.subarray(k * c), out.subarray(k * d), nProbes, c, d));
  return out.subarray(0, cols.length * d);
}

/** the active outputs by descending weight; empty when the weights carry no order (all equal) */
export function weightOrder(weight: number[]): number[] {
  const active = weight.map((v, i) => [Math.abs(v), i]).filter(([v]) => v > 0);
  if (active.length === 0 || active.every(([v]) => v === active[0][0])) return [];
  return active.sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
}

/**
 * Upper bound of σ1 of R = [R_S, R_S̄] (see the header) from the squared top two singular values
 * θ1², θ2² of R_S, β1 ≥ ‖R_S̄ᵀu1‖² and β ≥ ‖R_S̄‖_2²: √λmax([[θ1² + β1, √(β1β)], [√(β1β), θ2² + β]]).
 */
export function columnSplitUpper(th1Sq: number, th2Sq: number, beta1: number, beta: number): number {
  const a = th1Sq + beta1;
  const e = th2Sq + beta;
  return Math.sqrt((a + e) / 2 + Math.sqrt(((a - e) / 2) ** 2 + beta1 * beta));
}

/**
 * Runs the stage (on top of any probes already in `probes`). Returns the certified estimate,
 * 'exact' when the next round would reach half of R's passes (forming R costs less), or
 * 'subspace' when the weights do not predict the columns.
 * `probes` receives every probe taken (shared with the subspace stage); `canSpend(n)` says whether
 * n more passes stay below that limit.
 */
export async function columnStage(
  op: RedistributionOperator,
  o: ColumnStageOptions,
  rng: Rng,
  probes: Probe[],
  canSpend: (n: number) => boolean,
): Promise<ColumnStageResult | 'exact' | 'subspace'> {
  const { c, d } = op;
  const order = weightOrder(op.weight);
  if (order.length === 0) return 'subspace';
  // weights of outputs at exactly 0 are MAX_VALUE (mf-operator.ts): capped so that w² stays finite
  const w2 = order.map((k) => Math.min(op.weight[k], 1e150) ** 2);
  const cols: number[] = [];
  let WS = new Float64Array(0);
  let addCols = Math.min(o.block, order.length);
  // probes taken with the operator (redistributionOperator's `first`) count for the first round
  let addProbes = Math.max(0, o.probeBatch - probes.length);
  for (let rounds = 1; ; rounds++) {
    if (!canSpend(addCols + addProbes)) return 'exact';
    const next = order.slice(cols.length, cols.length + addCols);
    const W = await columnsAndProbes(op, next, addProbes, rng, probes);
    const grown = new Float64Array((cols.length + next.length) * d);
    grown.set(WS);
    grown.set(W, cols.length * d);
    WS = grown;
    cols.push(...next);
    const k = cols.length;

    const { values, vectors } = eigDesc(rowGram(WS, k, d));
    const th1 = values[0];
    const th2 = values[1] ?? 0;
    const inS = values.reduce((a, v) => a + v, 0);
    if (!(th1 > 0)) return 'subspace';
    const u1 = combine(WS, vectors[0], d, Math.sqrt(th1));
    // deflate every probe by the known columns: R_S̄ ε_S̄ = Rε − Σ_{j∈S} ε_j R e_j
    const rest: number[] = [];
    const along: number[] = [];
    for (const { eps, reps } of probes) {
      const r = Float64Array.from(reps);
      cols.forEach((col, j) => {
        const e = eps[col];
        for (let q = 0; q < d; q++) r[q] -= e * WS[j * d + q];
      });
      let sq = 0;
      let dot = 0;
      for (let q = 0; q < d; q++) {
        sq += r[q] * r[q];
        dot += r[q] * u1[q];
      }
      rest.push(sq);
      along.push(dot * dot);
    }
    const remaining = k >= order.length ? { mean: 0, seMean: 0, half: 0 } : meanInterval(rest, o.z);
    const remHi = remaining.mean + remaining.half;
    const frobenius = Math.sqrt(inS + remaining.mean);
    const frobeniusBounds: [number, number] = [
      Math.sqrt(inS + Math.max(0, remaining.mean - remaining.half)),
      Math.sqrt(inS + remHi),
    ];
    const fWidth = Math.max(frobeniusBounds[1] - frobenius, frobenius - frobeniusBounds[0]) / frobenius;
    const fCertified = (k >= order.length || probes.length >= o.probeBatch) && fWidth <= o.tolFrobenius;

    // σ1 from the probes' samples of β1 (no pass): enough to steer the rounds, not to certify —
    // a few Rademacher samples of (u1ᵀR_S̄ε)² can agree by chance and feign a zero standard error
    const b1 = k >= order.length ? { mean: 0, half: 0 } : meanInterval(along, o.z);
    const lower = Math.sqrt(th1);
    let upper = columnSplitUpper(th1, th2, Math.min(b1.mean + b1.half, remHi), remHi);
    let sCertified = upper - lower <= o.tolSigma1 * lower;
    if (sCertified && fCertified) {
      // certify with the exact β1 = ‖R_S̄ᵀu1‖² from one forward-mode pass; ‖Rᵀu1‖ ≤ σ1 is the estimate
      const rtu = await op.applyT(u1, 1);
      // β1 summed over S̄ itself: ‖Rᵀu1‖² − Σ_S would cancel two numbers ≈ θ1²
      const inCols = new Set(cols);
      let beta1 = 0;
      for (let q = 0; q < c; q++) if (!inCols.has(q)) beta1 += rtu[q] * rtu[q];
      const sigma1 = Math.max(lower, Math.sqrt(th1 + beta1));
      // β1 ≤ ‖R_S̄‖_2² ≤ ‖R_S̄‖_F² exactly: a β1 above the interval's upper end proves that end too
      // low, so β never goes below β1 (and ‖R‖_F ≥ √(‖R_S‖_F² + β1) raises the lower end)
      upper = columnSplitUpper(th1, th2, beta1, Math.max(remHi, beta1));
      frobeniusBounds[0] = Math.max(frobeniusBounds[0], Math.sqrt(inS + beta1));
      frobeniusBounds[1] = Math.max(frobeniusBounds[1], frobeniusBounds[0]);
      sCertified = upper - sigma1 <= o.tolSigma1 * sigma1;
      if (sCertified) {
        const sv = values.map(Math.sqrt);
        const m = Math.min(k, 8);
        return {
          sigma1,
          sigma1Bounds: [sigma1, upper],
          frobenius: Math.min(Math.max(frobenius, frobeniusBounds[0]), frobeniusBounds[1]),
          frobeniusBounds,
          seMean: remaining.seMean,
          ritzValues: sv.slice(0, m),
          ritzVectors: {
            u: vectors.slice(0, m).map((y, i) => combine(WS, y, d, sv[i] || 1)),
            v: vectors.slice(0, m).map((y) => {
              const v = new Float64Array(c);
              cols.forEach((col, j) => {
                v[col] = y[j];
              });
              return v;
            }),
          },
          columns: cols,
          rounds,
        };
      }
    }
    // hand over when the columns do not carry the energy, or when σ1 is out of their reach: with
    // θ2 close to θ1 the bound needs almost all of ‖R‖_F² in the columns (the subspace iteration
    // separates such a pair; VGG16's column stage is within 0.3 % after its first round)
    if (inS < remaining.mean || (upper - lower) / lower > 4 * o.tolSigma1) return 'subspace';
    // next round: columns when σ1 needs them or when they promise the narrower ‖R‖_F interval
    const more = order.slice(k, k + o.block);
    const restW2 = w2.slice(k).reduce((a, v) => a + v, 0);
    const share = restW2 > 0 ? w2.slice(k, k + more.length).reduce((a, v) => a + v, 0) / restW2 : 0;
    const m = probes.length;
    const probeGain =
      (tQuantile(o.z, m + o.probeBatch - 1) / tQuantile(o.z, Math.max(1, m - 1))) *
      Math.sqrt(m / (m + o.probeBatch));
    // compare the interval's shrink per pass: columns cost one pass each, as probes do
    const perColumn = share >= 1 ? Number.NEGATIVE_INFINITY : Math.log(1 - share) / Math.max(1, more.length);
    const perProbe = Math.log(probeGain) / o.probeBatch;
    const wantColumns = !sCertified || perColumn < perProbe || probes.length + o.probeBatch > o.maxProbes;
    addCols = wantColumns ? more.length : 0;
    addProbes = wantColumns ? 0 : o.probeBatch;
    if (addCols + addProbes === 0) return 'subspace';
  }
}
