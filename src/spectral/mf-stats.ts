/** Confidence intervals of Hutchinson-style sample means for the matrix-free estimates. */

/**
 * Standard normal CDF Φ(z), from the complementary error function (Numerical Recipes' erfcc
 * Chebyshev fit, relative error < 1.2e-7 everywhere).
 */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * Student-t CDF for an integer number ν ≥ 1 of degrees of freedom, in closed form (Abramowitz &
 * Stegun 26.7.3 / 26.7.4: a finite series in cos²θ, θ = atan(t/√ν)).
 */
export function studentTCdf(t: number, nu: number): number {
  const theta = Math.atan(t / Math.sqrt(nu));
  const c2 = Math.cos(theta) ** 2;
  const sin = Math.sin(theta);
  let a: number;
  if (nu % 2 === 1) {
    // A(t|ν) = (2/π)(θ + sinθ cosθ (1 + 2/3 cos²θ + … + (2·4…(ν−3))/(1·3…(ν−2)) cos^(ν−3)θ))
    let term = 1;
    let sum = nu > 1 ? 1 : 0;
    for (let k = 3; k <= nu - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    a = (2 / Math.PI) * (theta + sin * Math.cos(theta) * sum);
  } else {
    // A(t|ν) = sinθ (1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + … + (1·3…(ν−3))/(2·4…(ν−2)) cos^(ν−2)θ)
    let term = 1;
    let sum = 1;
    for (let k = 2; k <= nu - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    a = sin * sum;
  }
  return 0.5 + a / 2;
}

/**
 * Student-t quantile with ν degrees of freedom at the probability Φ(z) (one side of a ± z
 * interval): the standard error of a few probes is itself uncertain, so the interval widens for
 * small probe counts (z = 3: 9.22 standard errors for 4 probes, 4.53 for 8, → 3). Exact, by
 * bisection on the closed-form CDF; non-integer ν rounds down (conservative). Hand-written: the
 * maintained libraries that have it (e.g. @stdlib's t quantile) pull in ≈ 26 MB of packages.
 * (The Cornish-Fisher expansion used before gave 8.5 for 4 probes: too narrow.)
 */
export function tQuantile(z: number, nu: number): number {
  const n = Math.max(1, Math.floor(nu));
  const p = normalCdf(z);
  if (p <= 0.5) return z; // not used for intervals; keeps the function total
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, n) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, n) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
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
