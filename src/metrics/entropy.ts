/** Shannon entropy of a heat map (DESIGN §1.6): p = |h|/Σ|h|, H = −Σ p ln p, 0 ln 0 = 0. */
export function entropy(h: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += Math.abs(h[i]);
  if (total === 0) throw new Error('entropy of an all-zero heat map is undefined');
  let H = 0;
  for (let i = 0; i < h.length; i++) {
    const p = Math.abs(h[i]) / total;
    if (p > 0) H -= p * Math.log(p);
  }
  return H;
}

/** Channel-sum a [C, H·W] attribution into a pixel heat map */
export function channelSum(a: ArrayLike<number>, channels: number): Float64Array {
  const n = a.length / channels;
  const h = new Float64Array(n);
  for (let c = 0; c < channels; c++) for (let p = 0; p < n; p++) h[p] += a[c * n + p];
  return h;
}
