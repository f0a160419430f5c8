/** Confidence intervals of Hutchinson-style sample means for the matrix-free estimates. */

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

/**
 * Mean of the samples and the half width of its interval: tQuantile(z, n − 1) standard errors of
 * the mean (n ≥ 2; with fewer the half width is +∞).
 */
export function meanInterval(vals: number[], z: number): { mean: number; seMean: number; half: number } {
  const n = vals.length;
  const mean = n ? vals.reduce((acc, v) => acc + v, 0) / n : 0;
  if (n < 2) return { mean, seMean: Number.POSITIVE_INFINITY, half: Number.POSITIVE_INFINITY };
  const sd = Math.sqrt(vals.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (n - 1));
  const seMean = sd / Math.sqrt(n);
  return { mean, seMean, half: tQuantile(z, n - 1) * seMean };
}
