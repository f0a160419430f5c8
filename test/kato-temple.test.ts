/**
 * The quadratic (Kato-Temple) upper bound of σ1 used by the matrix-free estimator: on random
 * explicit matrices and random subspaces, with exact inputs (Ritz values of span(V), the top Ritz
 * pair's residual, ‖R(I − VVᵀ)‖_F²), it never falls below the true σ1, and it is tighter than the
 * linear bound σ̃ + r once the residual is small.
 */
import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/methods/random.js';
import { katoTempleUpper } from '../src/spectral/matrix-free.js';

function randomMatrix(rows: number, cols: number, rng: Rng, decay: number): Matrix {
  // columns of decaying scale, like R's E_k / f_k
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) m.set(i, j, rng.normal() * Math.exp(-decay * j));
  return m;
}

describe('Kato-Temple bound of σ1', () => {
  it('holds on 200 random matrices and subspaces, and beats the linear bound near convergence', () => {
    const rng = new Rng(11);
    let tighter = 0;
    for (let trial = 0; trial < 200; trial++) {
      const d = 40;
      const c = 25;
      const R = randomMatrix(d, c, rng, 0.2 + (trial % 5) * 0.2);
      const s1 = new SingularValueDecomposition(R).diagonal[0];
      const b = 2 + (trial % 4);
      // a subspace near the top right singular vectors after 1-3 power steps
      let V = randomMatrix(c, b, rng, 0);
      for (let k = 0; k < 1 + (trial % 3); k++)
        V = new QrDecomposition(R.transpose().mmul(R.mmul(V))).orthogonalMatrix.subMatrix(0, c - 1, 0, b - 1);
      const W = R.mmul(V);
      const svd = new SingularValueDecomposition(W.transpose().mmul(W));
      const theta = svd.diagonal;
      const y = svd.leftSingularVectors.getColumnVector(0);
      const st = Math.sqrt(theta[0]);
      const v = V.mmul(y);
      const u = R.mmul(v).div(st);
      const residual = R.transpose().mmul(u).sub(v.clone().mul(st)).norm();
      const outside = R.norm() ** 2 - W.norm() ** 2;
      const kt = katoTempleUpper(st, residual, theta[1], outside);
      expect(st).toBeLessThanOrEqual(s1 * (1 + 1e-12));
      expect(kt, `trial ${trial}`).toBeGreaterThanOrEqual(s1 * (1 - 1e-12));
      // an overestimated ‖R‖_F only loosens it
      expect(katoTempleUpper(st, residual, theta[1], outside * 1.5)).toBeGreaterThanOrEqual(kt);
      if (kt < st + residual) tighter++;
    }
    expect(tighter).toBeGreaterThan(50);
  });
});
