/**
 * Per-rule oracle tests (Zennit's style): on a small random linear layer with inputs of both
 * signs, the compiled rule must equal the explicit matrix written from DESIGN §1.5 / Zennit.
 */
import { describe, expect, it } from 'vitest';
import { lrp } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import { customComposite } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { linearModel, randomArray } from './helpers/tiny-models.js';

const NIN = 7;
const NOUT = 5;
const stab = (u: number, e = 1e-6) => u + e * (u >= 0 ? 1 : -1);
const pos = (v: number) => Math.max(v, 0);
const neg = (v: number) => Math.min(v, 0);

type Oracle = (W: Float32Array, b: Float32Array, x: Float32Array) => number[][]; // M[j][k]: R_j per unit R_k

const z = (
  W: Float32Array,
  b: Float32Array,
  x: Float32Array,
  k: number,
  wf = (w: number) => w,
  xf = (v: number) => v,
) => {
  let s = 0;
  for (let j = 0; j < NIN; j++) s += xf(x[j]) * wf(W[k * NIN + j]);
  return s + b[k];
};

function matrix(f: (j: number, k: number) => number): number[][] {
  return Array.from({ length: NIN }, (_, j) => Array.from({ length: NOUT }, (_, k) => f(j, k)));
}

const oracles: Record<string, Oracle> = {
  'epsilon:0.01': (W, b, x) => matrix((j, k) => (x[j] * W[k * NIN + j]) / stab(z(W, b, x, k), 0.01)),
  zero: (W, b, x) => matrix((j, k) => (x[j] * W[k * NIN + j]) / stab(z(W, b, x, k))),
  'gamma:0.5': (W, b, x) =>
    matrix((j, k) => {
      const g = 0.5;
      const zk = z(W, b, x, k);
      const w = W[k * NIN + j];
      const wp = w + g * pos(w);
      const wn = w + g * neg(w);
      let dp = b[k] + g * pos(b[k]);
      let dn = b[k] + g * neg(b[k]);
      for (let i = 0; i < NIN; i++) {
        const wi = W[k * NIN + i];
        dp += pos(x[i]) * (wi + g * pos(wi)) + neg(x[i]) * (wi + g * neg(wi));
        dn += pos(x[i]) * (wi + g * neg(wi)) + neg(x[i]) * (wi + g * pos(wi));
      }
      if (zk > 0) return (pos(x[j]) * wp + neg(x[j]) * wn) / stab(dp);
      if (zk < 0) return (pos(x[j]) * wn + neg(x[j]) * wp) / stab(dn);
      return 0;
    }),
  zplus: (W, b, x) =>
    matrix((j, k) => {
      let den = pos(b[k]);
      for (let i = 0; i < NIN; i++) den += pos(x[i]) * pos(W[k * NIN + i]) + neg(x[i]) * neg(W[k * NIN + i]);
      const w = W[k * NIN + j];
      return (pos(x[j]) * pos(w) + neg(x[j]) * neg(w)) / stab(den);
    }),
  'alphabeta:2:1': (W, b, x) =>
    matrix((j, k) => {
      let dp = pos(b[k]);
      let dn = neg(b[k]);
      for (let i = 0; i < NIN; i++) {
        const wi = W[k * NIN + i];
        dp += pos(x[i]) * pos(wi) + neg(x[i]) * neg(wi);
        dn += pos(x[i]) * neg(wi) + neg(x[i]) * pos(wi);
      }
      const w = W[k * NIN + j];
      return (
        (2 * (pos(x[j]) * pos(w) + neg(x[j]) * neg(w))) / stab(dp) -
        (pos(x[j]) * neg(w) + neg(x[j]) * pos(w)) / stab(dn)
      );
    }),
  'zbox:-1.5:2': (W, b, x) =>
    matrix((j, k) => {
      const l = -1.5;
      const h = 2;
      let den = 0;
      for (let i = 0; i < NIN; i++) {
        const wi = W[k * NIN + i];
        den += x[i] * wi - l * pos(wi) - h * neg(wi);
      }
      den += b[k] - pos(b[k]) - neg(b[k]);
      const w = W[k * NIN + j];
      return (x[j] * w - l * pos(w) - h * neg(w)) / stab(den);
    }),
  flat: () => matrix(() => 1 / stab(NIN)),
  wsquare: (W, b) =>
    matrix((j, k) => {
      let den = b[k] * b[k];
      for (let i = 0; i < NIN; i++) den += W[k * NIN + i] ** 2;
      return W[k * NIN + j] ** 2 / stab(den);
    }),
};

describe.each(Object.keys(oracles))('rule %s on a linear layer', (rule) => {
  it('equals the explicit matrix for 3 random layers', async () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const W = randomArray(rng, NIN * NOUT);
      const b = randomArray(rng, NOUT, 0.5);
      const x = randomArray(rng, NIN);
      const model = linearModel(W, b, NIN, NOUT);
      const runner = new ModelRunner(model, new NodeEngine());
      const m = lrp(runner, customComposite(`*=${rule}`));
      const seeds = new Float32Array(NOUT * NOUT);
      for (let k = 0; k < NOUT; k++) seeds[k * NOUT + k] = 1;
      const ex = await m.attribute(x, seeds, NOUT);
      const M = oracles[rule](W, b, x);
      let scale = 0;
      for (const row of M) for (const v of row) scale = Math.max(scale, Math.abs(v));
      for (let k = 0; k < NOUT; k++) {
        for (let j = 0; j < NIN; j++) {
          expect(
            Math.abs(ex.attributions[k * NIN + j] - M[j][k]) / scale,
            `seed ${seed} R[${j}] of output ${k}`,
          ).toBeLessThan(2e-5);
        }
      }
    }
  });
});

describe('rule parameters', () => {
  it('rejects alpha - beta ≠ 1 and negative gamma', () => {
    expect(() => customComposite('*=alphabeta:2:2')).toThrow(/alpha - beta = 1/);
    expect(() => customComposite('*=gamma:-1')).toThrow(/rule "gamma:-1": parameter 1 must be ≥ 0/);
  });
  it('gamma = inf means 1e8', () => {
    const c = customComposite('conv=gamma:inf');
    expect(c.entries[0].rule.params).toEqual({ gamma: 1e8 });
  });
});
