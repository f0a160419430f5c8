/** Small dense linear algebra on row-major blocks for the matrix-free estimates (k ≪ c, d). */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Orthonormalise the k rows (each of length n) by modified Gram-Schmidt; returns the rank kept. */
export function orthonormalRows(A: Float64Array, k: number, n: number): number {
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
export function rowGram(W: Float64Array, k: number, n: number): number[][] {
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
export function eigDesc(G: number[][]): { values: number[]; vectors: number[][] } {
  const e = new EigenvalueDecomposition(new Matrix(G), { assumeSymmetric: true });
  const order = e.realEigenvalues.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
  return {
    values: order.map(([v]) => Math.max(v, 0)),
    vectors: order.map(([, i]) => Array.from({ length: G.length }, (_, j) => e.eigenvectorMatrix.get(j, i))),
  };
}

/** Σ_j y_j · rows_j (rows of length n) */
export function combine(rows: Float64Array, y: number[], n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  y.forEach((w, j) => {
    if (w === 0) return;
    for (let q = 0; q < n; q++) out[q] += (w * rows[j * n + q]) / scale;
  });
  return out;
}
