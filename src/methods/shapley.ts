/**
 * Shapley value sampling (Štrumbelj & Kononenko; Captum's ShapleyValueSampling): n random
 * permutations of the features; each feature is switched from the baseline to the input in
 * permutation order and credited with the change of every output. Cost 1 + n·F forward passes,
 * run in batches of `perturbationsPerEval`. All c outputs come from the same passes, so the
 * attribution of any readout y is φ·y (Shapley values are linear in the game).
 */
import type { ModelRunner } from '../runtime/runner.js';
import { Rng } from './random.js';
import { checkInput, type Explanation, type Method } from './types.js';

export interface ShapleyOptions {
  samples?: number;
  seed?: number;
  /** baseline input [...shape] */
  baseline: Float32Array;
  baselineLabel?: string;
  /** feature id of every pixel (H·W), ids 0..F-1; all channels of a pixel share it */
  featureMask: Int32Array;
  maskLabel?: string;
  perturbationsPerEval?: number;
  /** explicit permutations [n][F] (tests enumerate all orders) */
  permutations?: Int32Array[];
  /**
   * Coalition-value cache for small feature counts (F ≤ 24): each distinct coalition is
   * evaluated once. Pass a Map to share it across calls on the same input and baseline.
   */
  coalitionCache?: Map<number, Float32Array>;
  progress?: (done: number, total: number) => void;
}

/** Default feature mask: pixels for inputs up to 32×32, square patches of `patch` (16) above. */
export function defaultFeatureMask(
  h: number,
  w: number,
  patch?: number,
): { mask: Int32Array; label: string } {
  const p = patch ?? (h <= 32 && w <= 32 ? 1 : 16);
  const cols = Math.ceil(w / p);
  const mask = new Int32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) mask[y * w + x] = Math.floor(y / p) * cols + Math.floor(x / p);
  return { mask, label: p === 1 ? 'pixels' : `patches ${p}x${p}` };
}

export function validateFeatureMask(mask: Int32Array, h: number, w: number): number {
  if (mask.length !== h * w)
    throw new Error(`feature mask has ${mask.length} entries, the input has ${h}×${w} pixels`);
  let max = -1;
  for (const v of mask) {
    if (v < 0) throw new Error('feature mask ids must be ≥ 0');
    max = Math.max(max, v);
  }
  const seen = new Uint8Array(max + 1);
  for (const v of mask) seen[v] = 1;
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new Error(`feature mask ids must be 0..F-1 without gaps (id ${missing} is unused)`);
  return max + 1;
}

export function shapleySampling(runner: ModelRunner, opts: ShapleyOptions): Method {
  const [C, H, W] = runner.model.inputShape.length === 3 ? runner.model.inputShape : [1, 1, runner.inputSize];
  const F = validateFeatureMask(opts.featureMask, H, W);
  const n = opts.permutations?.length ?? opts.samples ?? 25;
  const seed = opts.seed ?? 0;
  const members: number[][] = Array.from({ length: F }, () => []);
  opts.featureMask.forEach((f, p) => {
    for (let ch = 0; ch < C; ch++) members[f].push(ch * H * W + p);
  });
  return {
    name: 'shapley',
    options: {
      samples: n,
      seed,
      features: opts.maskLabel ?? `${F} features`,
      baseline: opts.baselineLabel ?? 'custom',
    },
    divideByOutput: true,
    runner,
    baseline: opts.baseline,
    async attribute(x, seeds, K): Promise<Explanation> {
      checkInput(runner, x);
      checkInput(runner, opts.baseline, 'Shapley baseline');
      const d = x.length;
      const c = runner.outputSize;
      const rng = new Rng(seed);
      const perEval = Math.max(1, opts.perturbationsPerEval ?? Math.min(4096, runner.rowsPerRun()));
      const phi = new Float64Array(F * c);
      const base = await runner.forward(opts.baseline, 1);
      const perms = Array.from({ length: n }, (_, j) => opts.permutations?.[j] ?? rng.permutation(F));
      const credit = (f: number, out: ArrayLike<number>, prev: Float64Array) => {
        for (let o = 0; o < c; o++) {
          phi[f * c + o] += out[o] - prev[o];
          prev[o] = out[o];
        }
      };
      const fill = (dst: Float32Array, coalition: (f: number) => boolean) => {
        dst.set(opts.baseline);
        for (let f = 0; f < F; f++) if (coalition(f)) for (const e of members[f]) dst[e] = x[e];
      };
      if (F <= 24) {
        // few features: evaluate each distinct coalition once (2^F at most), then credit
        const cache = opts.coalitionCache ?? new Map<number, Float32Array>();
        const needed = new Set<number>();
        for (const p of perms) {
          let m = 0;
          for (const f of p) {
            m |= 1 << f;
            if (!cache.has(m)) needed.add(m);
          }
        }
        const todo = [...needed];
        const total = todo.length;
        for (let t0 = 0; t0 < todo.length; t0 += perEval) {
          const nb = Math.min(perEval, todo.length - t0);
          const buf = new Float32Array(nb * d);
          for (let b = 0; b < nb; b++)
            fill(buf.subarray(b * d, (b + 1) * d), (f) => ((todo[t0 + b] >> f) & 1) === 1);
          const out = await runner.forward(buf, nb);
          for (let b = 0; b < nb; b++) cache.set(todo[t0 + b], out.slice(b * c, (b + 1) * c));
          opts.progress?.(t0 + nb, total);
        }
        for (const p of perms) {
          const prev = Float64Array.from(base);
          let m = 0;
          for (const f of p) {
            m |= 1 << f;
            credit(f, cache.get(m)!, prev);
          }
        }
      } else {
        // many features: stream the n·F states in batches of perEval
        const total = n * F;
        let done = 0;
        const buf = new Float32Array(perEval * d);
        const owner = new Int32Array(perEval);
        for (const perm of perms) {
          const cur = Float32Array.from(opts.baseline);
          const prev = Float64Array.from(base);
          for (let t0 = 0; t0 < F; t0 += perEval) {
            const nb = Math.min(perEval, F - t0);
            for (let b = 0; b < nb; b++) {
              const f = perm[t0 + b];
              for (const e of members[f]) cur[e] = x[e];
              buf.set(cur, b * d);
              owner[b] = f;
            }
            const out = await runner.forward(buf.subarray(0, nb * d), nb);
            for (let b = 0; b < nb; b++) credit(owner[b], out.subarray(b * c, (b + 1) * c), prev);
            done += nb;
            opts.progress?.(done, total);
          }
        }
      }
      for (let q = 0; q < phi.length; q++) phi[q] /= n;
      const groupAttr = new Float32Array(K * F);
      for (let k = 0; k < K; k++)
        for (let f = 0; f < F; f++) {
          let v = 0;
          for (let o = 0; o < c; o++) v += phi[f * c + o] * seeds[k * c + o];
          groupAttr[k * F + f] = v;
        }
      const attributions = new Float32Array(K * d);
      for (let k = 0; k < K; k++)
        for (let f = 0; f < F; f++)
          for (const e of members[f]) attributions[k * d + e] = groupAttr[k * F + f];
      const logits = await runner.forward(x, 1);
      return {
        attributions,
        logits,
        K,
        groups: { attributions: groupAttr, count: F, mask: opts.featureMask },
      };
    },
  };
}
