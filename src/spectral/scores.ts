/** The paper's scores from a spectrum (DESIGN §1.3). */
export interface SpectralScores {
  sigma1: number;
  stability: number;
  sensitivity: number;
  ssm: number;
  effectiveRank: number;
  l1Norm: number;
}

export function scoresFromSpectrum(singularValues: number[], l1Norm: number): SpectralScores {
  const s1 = singularValues[0] ?? 0;
  const sq = singularValues.reduce((a, s) => a + s * s, 0);
  const sum = singularValues.reduce((a, s) => a + s, 0);
  const fro = Math.sqrt(sq);
  return {
    sigma1: s1,
    stability: s1 > 0 ? 1 / s1 : Number.POSITIVE_INFINITY,
    sensitivity: fro,
    ssm: s1 > 0 ? fro / s1 : Number.NaN,
    effectiveRank: sq > 0 ? (sum * sum) / sq : 0,
    l1Norm,
  };
}
