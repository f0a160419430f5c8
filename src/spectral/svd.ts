/**
 * Thin SVD of a tall d×c matrix through its c×c Gram matrix: G = RᵀR = V Σ² Vᵀ (symmetric
 * eigendecomposition by ml-matrix), σ_i = √λ_i, and σ_i u_i = R v_i on demand. Cost O(d·c²) for
 * the Gram matrix, O(c³) for the eigendecomposition — the only way that stays feasible at
 * ImageNet size (d = 150,528, c = 1,000) where a full SVD of R would be O(d²c).
 * Accuracy: the relative error of σ_i is about ε·(σ_1/σ_i)² in float64, far below float32 noise.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import {
  applyMany,
  asStore,
  columnSumsOf,
  memoryStore,
  type RStore,
  STRIPE_BYTES,
  stripes,
} from './r-store.js';

export type GramFn = (R: Float64Array | Float32Array, d: number, c: number) => Promise<Float64Array>;

export interface Svd {
  singularValues: number[];
  /** c×r right singular vectors, column i = v_i (row-major c×r) */
  V: Float64Array;
  d: number;
  c: number;
  r: number;
}

/** RᵀR in float64, row by row (added into `G` when given, e.g. stripe by stripe). */
export function gramJs(
  R: Float64Array | Float32Array,
  d: number,
  c: number,
  G: Float64Array = new Float64Array(c * c),
): Float64Array {
  for (let i = 0; i < d; i++) {
    const off = i * c;
    for (let a = 0; a < c; a++) {
      const ra = R[off + a];
      if (ra === 0) continue;
      const ga = a * c;
      for (let b = a; b < c; b++) G[ga + b] += ra * R[off + b];
    }
  }
  return G;
}

/** mirror the upper triangle gramJs accumulates into the lower one */
function symmetrize(G: Float64Array, c: number): Float64Array {
  for (let a = 0; a < c; a++) for (let b = 0; b < a; b++) G[a * c + b] = G[b * c + a];
  return G;
}

export async function thinSvd(
  R: Float64Array | Float32Array,
  d: number,
  c: number,
  gram?: GramFn,
): Promise<Svd> {
  return storeSvd(memoryStore(R, d, c), gram);
}

/**
 * Thin SVD of R wherever it is (memory or disk): the Gram matrix is summed over row stripes, so
 * an engine's Gram (gram-ort.ts) never sees more than one stripe at a time. All-zero columns
 * (inactive outputs under `--inactive zero`: about half of VGG16's 1,000) are left out of the
 * Gram matrix and its eigen-decomposition — they add nothing to either, and cost O(d·c²) and
 * O(c³) — and get zero rows in V.
 */
export async function storeSvd(
  store: RStore,
  gram?: GramFn,
  stripeBytes = STRIPE_BYTES,
  /** Σ_i |R_ik| per column when known (RedistributionMatrix.columnAbsSums): saves a pass over R */
  absColumnSums: number[] = columnSumsOf(store, true, stripeBytes),
): Promise<Svd> {
  const { d, c } = store;
  if (c > d) {
    if (!store.array) throw new Error(`R on disk needs at least as many rows as columns (it is ${d}×${c})`);
    return wideSvd(store.array, d, c, gram);
  }
  const active = absColumnSums.flatMap((s, k) => (s > 0 ? [k] : []));
  const ca = active.length;
  if (ca === 0) return { singularValues: [], V: new Float64Array(0), d, c, r: 0 };
  let G: Float64Array = new Float64Array(ca * ca);
  // one buffer for the compacted stripes (float32 for an engine's Gram, which rounds to it anyway):
  // no stripe-sized garbage for V8 to collect late
  let buffer: Float32Array | Float64Array | undefined;
  for (const { n, rows } of stripes(store, stripeBytes)) {
    let part = rows;
    if (ca < c || (gram && !(rows instanceof Float32Array))) {
      buffer ??= gram ? new Float32Array(n * ca) : new Float64Array(n * ca);
      part = buffer.subarray(0, n * ca);
      for (let i = 0; i < n; i++) for (let j = 0; j < ca; j++) part[i * ca + j] = rows[i * c + active[j]];
    }
    if (!gram) gramJs(part, n, ca, G);
    else {
      const g = await gram(part, n, ca);
      for (let q = 0; q < G.length; q++) G[q] += g[q];
    }
  }
  if (!gram) G = symmetrize(G, ca);
  const compact = svdFromGram(G, d, ca);
  const V = new Float64Array(c * compact.r);
  for (const [j, k] of active.entries())
    V.set(compact.V.subarray(j * compact.r, (j + 1) * compact.r), k * compact.r);
  return { ...compact, V, c };
}

/** σ_i and v_i from the eigen-decomposition of G = RᵀR */
function svdFromGram(G: Float64Array, d: number, c: number): Svd {
  const rows: number[][] = [];
  for (let a = 0; a < c; a++) rows.push(Array.from(G.subarray(a * c, (a + 1) * c)));
  const eig = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const lambdas = eig.realEigenvalues;
  const vecs = eig.eigenvectorMatrix;
  const order = lambdas.map((_, i) => i).sort((p, q) => lambdas[q] - lambdas[p]);
  const lmax = Math.max(0, lambdas[order[0]] ?? 0);
  // singular values below the float64 resolution of the Gram matrix are numerically zero
  const tol = lmax * c * 1e-15;
  const kept = order.filter((i) => lambdas[i] > tol);
  const r = Math.min(kept.length, d);
  const singularValues = kept.slice(0, r).map((i) => Math.sqrt(lambdas[i]));
  const V = new Float64Array(c * r);
  kept.slice(0, r).forEach((i, j) => {
    for (let a = 0; a < c; a++) V[a * r + j] = vecs.get(a, i);
  });
  return { singularValues, V, d, c, r };
}

/** v_i as an array of length c */
export function rightSingularVector(svd: Svd, i: number): Float64Array {
  const v = new Float64Array(svd.c);
  for (let a = 0; a < svd.c; a++) v[a] = svd.V[a * svd.r + i];
  return v;
}

/** R·y for a readout y (length c) */
export function applyR(
  R: Float64Array | Float32Array,
  d: number,
  c: number,
  y: ArrayLike<number>,
): Float64Array {
  return applyMany(memoryStore(R, d, c), [y])[0];
}

/** u_i = R v_i / σ_i */
export function leftSingularVector(R: Float64Array | Float32Array, svd: Svd, i: number): Float64Array {
  const u = applyR(R, svd.d, svd.c, rightSingularVector(svd, i));
  for (let q = 0; q < u.length; q++) u[q] /= svd.singularValues[i];
  return u;
}

/** max |UᵀU − I| and max |VᵀV − I| over the first `count` singular vectors (R in memory or a store) */
export function orthogonalityError(
  R: Float64Array | Float32Array | RStore,
  svd: Svd,
  count = svd.r,
): { u: number; v: number } {
  const n = Math.min(count, svd.r);
  const us = applyMany(
    asStore(R, svd.d, svd.c),
    Array.from({ length: n }, (_, i) => rightSingularVector(svd, i)),
  ).map((u, i) => u.map((x) => x / svd.singularValues[i]));
  let eu = 0;
  let ev = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let su = 0;
      for (let q = 0; q < svd.d; q++) su += us[i][q] * us[j][q];
      let sv = 0;
      for (let a = 0; a < svd.c; a++) sv += svd.V[a * svd.r + i] * svd.V[a * svd.r + j];
      eu = Math.max(eu, Math.abs(su - (i === j ? 1 : 0)));
      ev = Math.max(ev, Math.abs(sv - (i === j ? 1 : 0)));
    }
  }
  return { u: eu, v: ev };
}

/** More columns than rows (e.g. an intermediate layer as output): decompose Rᵀ, then swap roles. */
async function wideSvd(R: Float64Array | Float32Array, d: number, c: number, gram?: GramFn): Promise<Svd> {
  const Rt = new Float64Array(d * c);
  for (let i = 0; i < d; i++) for (let k = 0; k < c; k++) Rt[k * d + i] = R[i * c + k];
  const t = await thinSvd(Rt, c, d, gram); // t.V holds the left singular vectors of R (d×r)
  const V = new Float64Array(c * t.r);
  for (let j = 0; j < t.r; j++) {
    const u = new Float64Array(d);
    for (let i = 0; i < d; i++) u[i] = t.V[i * t.r + j];
    const v = applyR(Rt, c, d, u); // Rᵀ u_j = σ_j v_j
    for (let k = 0; k < c; k++) V[k * t.r + j] = v[k] / t.singularValues[j];
  }
  return { singularValues: t.singularValues, V, d, c, r: t.r };
}
