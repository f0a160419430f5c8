/**
 * LRP rules as small declarative objects, in the shape of Zennit's BasicHook: a rule is a list of
 * terms (how to modify the layer's input and parameters), denominators (which term outputs are
 * summed, masked by the sign of the unmodified pre-activation, and stabilised) and a reducer
 * (coefficient of each term in the input relevance):
 *
 *   o_t   = layer(inMod_t(a); W_t, b_t)                      (batch of the forward pass)
 *   q_j   = R_out ⊙ mask_j / stab(Σ_t combine_jt · o_t)
 *   R_in  = Σ_t reducer_t · inMod_t(a) ⊙ layerᵀ(W_t) q_{den(t)}
 *
 * The compiler turns these into ONNX ops (propagate/), the oracle tests turn them into explicit
 * matrices (test/rules.test.ts). Formulas follow DESIGN §1.5 and Zennit's rules.py exactly.
 */
export type InputMod = 'identity' | 'positive' | 'negative' | 'ones' | 'low' | 'high';

export type ParamMod =
  | { kind: 'identity' }
  | { kind: 'zero' }
  | { kind: 'ones' }
  | { kind: 'square' }
  | { kind: 'clamp'; sign: 'pos' | 'neg' }
  /** p + γ·clamp(p) */
  | { kind: 'gamma'; gamma: number; sign: 'pos' | 'neg' };

export interface Term {
  input: InputMod;
  weight: ParamMod;
  bias: ParamMod;
  /** index into `denominators` */
  den: number;
  /** coefficient in the reducer */
  coef: number;
}

export interface Denominator {
  /** coefficient of each term's output in the denominator (length = terms.length) */
  combine: number[];
  /** which neurons take part, by the sign of the unmodified pre-activation z (incl. bias) */
  mask: 'all' | 'pos' | 'neg';
  epsilon: number;
}

export interface BasicRule {
  kind: 'basic';
  name: string;
  /** human-readable parameters, printed with the rule assignment */
  params: Record<string, number | number[]>;
  terms: Term[];
  denominators: Denominator[];
  /** per-feature (per input channel) bounds for 'low' / 'high' input modifiers */
  low?: number[];
  high?: number[];
}

/** The plain gradient through this layer (Zennit's default for layers without a rule). */
export interface GradientRule {
  kind: 'gradient';
  name: 'gradient';
  params: Record<string, never>;
}

export type Rule = BasicRule | GradientRule;

export const STABILIZER = 1e-6;
/** γ = ∞ is accepted and means γ = 1e8 (DESIGN §1.5). */
export const GAMMA_INFINITY = 1e8;

const id: ParamMod = { kind: 'identity' };
const zero: ParamMod = { kind: 'zero' };

export function epsilon(eps = 1e-6): BasicRule {
  return {
    kind: 'basic',
    name: 'epsilon',
    params: { epsilon: eps },
    terms: [{ input: 'identity', weight: id, bias: id, den: 0, coef: 1 }],
    denominators: [{ combine: [1], mask: 'all', epsilon: eps }],
  };
}

/** LRP-0: the ε-rule with only the stabiliser. */
export function zeroRule(): BasicRule {
  return { ...epsilon(STABILIZER), name: 'zero', params: {} };
}

export function gamma(g = 0.25): BasicRule {
  const gm = Number.isFinite(g) ? g : GAMMA_INFINITY;
  if (!(gm >= 0)) throw new Error(`gamma must be ≥ 0, got ${g}`);
  const pos = (s: 'pos' | 'neg'): ParamMod => ({ kind: 'gamma', gamma: gm, sign: s });
  return {
    kind: 'basic',
    name: 'gamma',
    params: { gamma: gm },
    terms: [
      { input: 'positive', weight: pos('pos'), bias: pos('pos'), den: 0, coef: 1 },
      { input: 'negative', weight: pos('neg'), bias: zero, den: 0, coef: 1 },
      { input: 'positive', weight: pos('neg'), bias: pos('neg'), den: 1, coef: 1 },
      { input: 'negative', weight: pos('pos'), bias: zero, den: 1, coef: 1 },
    ],
    denominators: [
      { combine: [1, 1, 0, 0], mask: 'pos', epsilon: STABILIZER },
      { combine: [0, 0, 1, 1], mask: 'neg', epsilon: STABILIZER },
    ],
  };
}

export function zPlus(): BasicRule {
  return {
    kind: 'basic',
    name: 'zplus',
    params: {},
    terms: [
      {
        input: 'positive',
        weight: { kind: 'clamp', sign: 'pos' },
        bias: { kind: 'clamp', sign: 'pos' },
        den: 0,
        coef: 1,
      },
      { input: 'negative', weight: { kind: 'clamp', sign: 'neg' }, bias: zero, den: 0, coef: 1 },
    ],
    denominators: [{ combine: [1, 1], mask: 'all', epsilon: STABILIZER }],
  };
}

export function alphaBeta(alpha = 2, beta = 1): BasicRule {
  if (alpha < 0 || beta < 0 || Math.abs(alpha - beta - 1) > 1e-12) {
    throw new Error(`alpha-beta needs alpha, beta ≥ 0 and alpha - beta = 1 (got ${alpha}, ${beta})`);
  }
  const c = (sign: 'pos' | 'neg'): ParamMod => ({ kind: 'clamp', sign });
  return {
    kind: 'basic',
    name: 'alphabeta',
    params: { alpha, beta },
    terms: [
      { input: 'positive', weight: c('pos'), bias: c('pos'), den: 0, coef: alpha },
      { input: 'negative', weight: c('neg'), bias: zero, den: 0, coef: alpha },
      { input: 'positive', weight: c('neg'), bias: c('neg'), den: 1, coef: -beta },
      { input: 'negative', weight: c('pos'), bias: zero, den: 1, coef: -beta },
    ],
    denominators: [
      { combine: [1, 1, 0, 0], mask: 'all', epsilon: STABILIZER },
      { combine: [0, 0, 1, 1], mask: 'all', epsilon: STABILIZER },
    ],
  };
}

/** z^B for bounded inputs l ≤ x ≤ h (scalars or one value per input channel). */
export function zBox(low: number[] | number, high: number[] | number): BasicRule {
  const l = Array.isArray(low) ? low : [low];
  const h = Array.isArray(high) ? high : [high];
  return {
    kind: 'basic',
    name: 'zbox',
    params: { low: l, high: h },
    low: l,
    high: h,
    terms: [
      { input: 'identity', weight: id, bias: id, den: 0, coef: 1 },
      {
        input: 'low',
        weight: { kind: 'clamp', sign: 'pos' },
        bias: { kind: 'clamp', sign: 'pos' },
        den: 0,
        coef: -1,
      },
      {
        input: 'high',
        weight: { kind: 'clamp', sign: 'neg' },
        bias: { kind: 'clamp', sign: 'neg' },
        den: 0,
        coef: -1,
      },
    ],
    denominators: [{ combine: [1, -1, -1], mask: 'all', epsilon: STABILIZER }],
  };
}

export function flat(): BasicRule {
  return {
    kind: 'basic',
    name: 'flat',
    params: {},
    terms: [{ input: 'ones', weight: { kind: 'ones' }, bias: zero, den: 0, coef: 1 }],
    denominators: [{ combine: [1], mask: 'all', epsilon: STABILIZER }],
  };
}

/** w²-rule; like Zennit, the bias is squared too (not zeroed). */
export function wSquare(): BasicRule {
  return {
    kind: 'basic',
    name: 'wsquare',
    params: {},
    terms: [{ input: 'ones', weight: { kind: 'square' }, bias: { kind: 'square' }, den: 0, coef: 1 }],
    denominators: [{ combine: [1], mask: 'all', epsilon: STABILIZER }],
  };
}

export function gradientRule(): GradientRule {
  return { kind: 'gradient', name: 'gradient', params: {} };
}

/** Parse a rule written as `name[:p1[:p2]]`, e.g. `gamma:0.25`, `epsilon:1e-6`, `zbox:0:1`. */
/** A rule or composite text that cannot be used; the message quotes it */
export class RuleError extends Error {}

/** Parameters each rule takes (a rule given more is an error, not silently truncated) */
const RULE_ARITY: Record<string, number> = {
  gamma: 1,
  epsilon: 1,
  zero: 0,
  lrp0: 0,
  zplus: 0,
  alphabeta: 2,
  zbox: 2,
  flat: 0,
  wsquare: 0,
  gradient: 0,
};

export function parseRule(text: string): Rule {
  const [name, ...args] = text.trim().toLowerCase().split(':');
  if (RULE_ARITY[name] !== undefined && args.length > RULE_ARITY[name])
    throw new RuleError(`rule "${text}": ${name} takes ${RULE_ARITY[name]} parameter(s), got ${args.length}`);
  const num = (
    i: number,
    d: number,
    ok: (v: number) => boolean = Number.isFinite,
    says = 'a finite number',
  ) => {
    if (args[i] === undefined) return d;
    const t = args[i].trim();
    const v = t === 'inf' ? Number.POSITIVE_INFINITY : Number(t);
    if (t === '' || Number.isNaN(v) || !ok(v))
      throw new RuleError(`rule "${text}": parameter ${i + 1} must be ${says}, got "${args[i]}"`);
    return v;
  };
  switch (name) {
    case 'gamma':
      return gamma(num(0, 0.25, (v) => v >= 0, '≥ 0 (inf allowed)'));
    case 'epsilon':
      return epsilon(num(0, 1e-6, (v) => Number.isFinite(v) && v > 0, 'a finite number > 0'));
    case 'zero':
    case 'lrp0':
      return zeroRule();
    case 'zplus':
      return zPlus();
    case 'alphabeta': {
      const [a, b] = [num(0, 2), num(1, 1)];
      if (a < 0 || b < 0 || Math.abs(a - b - 1) > 1e-12)
        throw new RuleError(`rule "${text}": alpha-beta needs alpha, beta ≥ 0 and alpha - beta = 1`);
      return alphaBeta(a, b);
    }
    case 'zbox': {
      const [lo, hi] = [num(0, 0), num(1, 1)];
      if (!(lo < hi)) throw new RuleError(`rule "${text}": zbox needs low < high, got ${lo} and ${hi}`);
      return zBox(lo, hi);
    }
    case 'flat':
      return flat();
    case 'wsquare':
      return wSquare();
    case 'gradient':
      return gradientRule();
    default:
      throw new RuleError(
        `unknown rule "${name}" in "${text}" (known: gamma, epsilon, zero, zplus, alphabeta, zbox, flat, wsquare, gradient)`,
      );
  }
}
