/**
 * The `average` max-pool rule for LRP (the first author's thesis code, after Montavon et al.'s LRP
 * tutorial): during relevance propagation a max-pool is treated as an average pool over the same
 * windows, and relevance is redistributed proportionally to the inputs (LRP-0 on the average pool
 * as a linear map): with n_w the size of window w and z_w = Σ_{i'∈w} x_i' / n_w its mean,
 * R_i = Σ_{w ∋ i} (x_i / n_w) · R_w / stab(z_w) ≈ Σ_{w ∋ i} x_i R_w / Σ_{i'∈w} x_i'. The forward activations stay those of the max-pool
 * network; only the relevance map changes. Winner-take-all (the default) routes relevance to the
 * arg-max instead (compile.ts).
 */
import type { Layer, PoolOp } from '../model/ir.js';
import { poolAttrs } from './forward.js';
import { avgPoolAdjoint, type Seeded } from './seeded.js';

export type MaxPoolRule = 'wta' | 'average';
export const MAXPOOL_RULES: MaxPoolRule[] = ['wta', 'average'];

/** The average pool over a max-pool's windows (padding never counts: max-pool pads with −∞). */
function asAveragePool(l: Layer): PoolOp {
  const op = l.op as PoolOp;
  if (op.dilations.some((d) => d !== 1))
    throw new Error(
      `max-pool ${l.name} is dilated (${op.dilations}): the "average" max-pool rule supports undilated pools only`,
    );
  return { ...op, type: 'avgpool', countIncludePad: false };
}

/** 1 / stab(average of the layer input over each window), as [B, 1, C, Ho, Wo] */
function inverseWindowMean(s: Seeded, l: Layer, avg: PoolOp): string {
  const g = s.g;
  const mean = g.op('AveragePool', [s.fwd.values.get(l.inputs[0])!], poolAttrs(avg));
  return s.unsq(g.op('Reciprocal', [s.stabilize(mean, 1e-6)]));
}

/** Relevance at the pool's input from relevance at its output (seeded layout) */
export function maxPoolAverageBackward(s: Seeded, l: Layer, rOut: string): string {
  const avg = asAveragePool(l);
  const inS = s.shape(l.inputs[0]);
  const outS = s.shape(l.output);
  const q = s.g.op('Mul', [rOut, inverseWindowMean(s, l, avg)]);
  return s.g.op('Mul', [avgPoolAdjoint(s, avg, q, inS, outS), s.act(l.inputs[0])]);
}

/** The transpose of maxPoolAverageBackward (forward mode, Rᵀu) */
export function maxPoolAverageForward(s: Seeded, l: Layer, v: string): string {
  const avg = asAveragePool(l);
  const inS = s.shape(l.inputs[0]);
  const outS = s.shape(l.output);
  const g = s.g;
  const pooled = s.unflat(
    g.op('AveragePool', [s.flat(g.op('Mul', [v, s.act(l.inputs[0])]), inS)], poolAttrs(avg)),
    outS,
  );
  return g.op('Mul', [pooled, inverseWindowMean(s, l, avg)]);
}
