/**
 * Turns a declarative BasicRule (rules/rules.ts) into ONNX values for one Conv/Linear layer:
 * modified parameters, the forward outputs of each term, and per denominator the factor
 * mask / stab(Σ combine·o). Both the backward pass (R_in) and its transpose (forward mode) use
 * the same prepared terms.
 */
import type { ConvOp, Layer, LinearOp, Model } from '../model/ir.js';
import { size } from '../model/ir.js';
import type { BasicRule, InputMod, ParamMod } from '../rules/rules.js';
import type { GraphBuilder } from './builder.js';
import { convAttrs } from './forward.js';
import { applyLinear, applyTransposed, type Seeded } from './seeded.js';

export interface PreparedTerm {
  input: InputMod;
  coef: number;
  den: number;
  weight: string;
  /** modified input at batch B (undefined for 'ones': multiplying by ones is skipped) */
  inputValue?: string;
}

export interface PreparedRule {
  terms: PreparedTerm[];
  /** per denominator: [B, ...out] factor mask/stab(den) */
  factors: string[];
}

function modParam(g: GraphBuilder, m: ParamMod, v: string): string | undefined {
  switch (m.kind) {
    case 'identity':
      return v;
    case 'zero':
      return undefined;
    case 'ones':
      return g.op('Add', [g.op('Mul', [v, g.floats([0])]), g.floats([1])]);
    case 'square':
      return g.op('Mul', [v, v]);
    case 'clamp':
      return m.sign === 'pos' ? g.op('Relu', [v]) : g.op('Min', [v, g.floats([0])]);
    case 'gamma': {
      const part = m.sign === 'pos' ? g.op('Relu', [v]) : g.op('Min', [v, g.floats([0])]);
      return g.op('Add', [v, g.op('Mul', [part, g.floats([m.gamma])])]);
    }
  }
}

/** Tensors known to be non-negative (outputs of ReLU and of pooling/reshaping such outputs). */
export function nonNegativeTensors(model: Model, inputNonNegative: boolean): Set<string> {
  const nn = new Set<string>();
  if (inputNonNegative) nn.add(model.inputName);
  for (const l of model.layers) {
    const t = l.op.type;
    const op = l.op;
    // outputs ≥ 0 whatever the input: ReLU, sigmoid-like gates, a clip at a bound ≥ 0
    if (
      t === 'relu' ||
      t === 'softmax' ||
      (op.type === 'unary' &&
        (op.fn === 'sigmoid' || op.fn === 'hardsigmoid' || (op.fn === 'clip' && op.min! >= 0)))
    )
      nn.add(l.output);
    else if (
      [
        'maxpool',
        'avgpool',
        'globalavgpool',
        'reshape',
        'concat',
        'add',
        'slice',
        'transpose',
        'reduce',
        'mul',
      ].includes(t) ||
      (op.type === 'pad' && op.value >= 0)
    ) {
      if (l.inputs.every((i) => nn.has(i))) nn.add(l.output);
    }
  }
  return nn;
}

function boundImage(g: GraphBuilder, values: number[], inShape: number[]): string {
  const n = size(inShape);
  const per = n / inShape[0];
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / per);
    data[i] =
      values.length === 1 ? values[0] : values.length === inShape[0] ? values[c] : values[i % values.length];
  }
  return g.initializer('bound', [1, ...inShape], data);
}

export function prepareRule(s: Seeded, layer: Layer, rule: BasicRule, nonNeg: boolean): PreparedRule {
  const g = s.g;
  const op = layer.op as ConvOp | LinearOp;
  const a = s.fwd.values.get(layer.inputs[0])!;
  const inS = s.shape(layer.inputs[0]);
  const w = s.fwd.params.get(op.weight)!;
  const b = op.bias ? s.fwd.params.get(op.bias) : undefined;
  const inputs = new Map<InputMod, string | undefined>();
  const inputOf = (m: InputMod): string | undefined => {
    if (!inputs.has(m)) {
      const v =
        m === 'identity'
          ? a
          : m === 'positive'
            ? nonNeg
              ? a
              : g.op('Relu', [a])
            : m === 'negative'
              ? g.op('Min', [a, g.floats([0])])
              : m === 'ones'
                ? undefined
                : boundImage(g, (m === 'low' ? rule.low : rule.high) ?? [0], inS);
      inputs.set(m, v);
    }
    return inputs.get(m);
  };
  const ones = () => g.initializer('ones_in', [1, ...inS], new Float32Array(size(inS)).fill(1));
  const outputs: (string | undefined)[] = [];
  const terms: PreparedTerm[] = [];
  rule.terms.forEach((t) => {
    const wb = t.bias.kind === 'zero' || !b ? undefined : modParam(g, t.bias, b);
    if (t.input === 'negative' && nonNeg && !wb) {
      outputs.push(undefined); // a⁻ = 0 and no bias: this term is identically zero
      return;
    }
    const wt = modParam(g, t.weight, w)!;
    const x = inputOf(t.input) ?? ones();
    const args = wb ? [x, wt, wb] : [x, wt];
    outputs.push(op.type === 'conv' ? g.op('Conv', args, convAttrs(op)) : g.op('Gemm', args, { transB: 1 }));
    terms.push({ input: t.input, coef: t.coef, den: t.den, weight: wt, inputValue: inputOf(t.input) });
  });
  const z = s.fwd.values.get(layer.output)!;
  const factors = rule.denominators.map((d) => {
    let sum: string | undefined;
    d.combine.forEach((c, i) => {
      const o = outputs[i];
      if (c === 0 || !o) return;
      const term = c === 1 ? o : g.op('Mul', [o, g.floats([c])]);
      sum = sum ? g.op('Add', [sum, term]) : term;
    });
    if (!sum) sum = g.op('Mul', [z, g.floats([0])]);
    let f = g.op('Reciprocal', [s.stabilize(sum, d.epsilon)]);
    if (d.mask !== 'all') {
      const m = g.op('Cast', [g.op(d.mask === 'pos' ? 'Greater' : 'Less', [z, g.floats([0])])], { to: 1 });
      f = g.op('Mul', [f, m]);
    }
    return f;
  });
  return { terms, factors };
}

/** R_in = Σ_t coef_t · inMod_t(a) ⊙ layerᵀ(W_t)(R_out ⊙ factor_den(t)) */
export function ruleBackward(s: Seeded, layer: Layer, p: PreparedRule, rOut: string): string {
  const g = s.g;
  const op = layer.op as ConvOp | LinearOp;
  const inS = s.shape(layer.inputs[0]);
  const outS = s.shape(layer.output);
  const q = p.factors.map((f) => g.op('Mul', [rOut, s.unsq(f)]));
  const byInput = new Map<string, string>();
  for (const t of p.terms) {
    let back = applyTransposed(s, op, t.weight, q[t.den], inS, outS);
    if (t.coef !== 1) back = g.op('Mul', [back, g.floats([t.coef])]);
    const key = t.inputValue ?? '';
    byInput.set(key, byInput.has(key) ? g.op('Add', [byInput.get(key)!, back]) : back);
  }
  const parts = [...byInput].map(([input, v]) => (input ? g.op('Mul', [v, s.unsq(input)]) : v));
  return parts.length === 1 ? parts[0] : g.op('Sum', parts);
}

/** Transpose of ruleBackward: u_out = Σ_j factor_j ⊙ Σ_{t∈j} coef_t · layer(W_t)(inMod_t(a) ⊙ u_in) */
export function ruleForward(s: Seeded, layer: Layer, p: PreparedRule, uIn: string): string {
  const g = s.g;
  const op = layer.op as ConvOp | LinearOp;
  const inS = s.shape(layer.inputs[0]);
  const outS = s.shape(layer.output);
  const perDen = new Map<number, string>();
  for (const t of p.terms) {
    const x = t.inputValue ? g.op('Mul', [uIn, s.unsq(t.inputValue)]) : uIn;
    let y = applyLinear(s, op, t.weight, x, inS, outS);
    if (t.coef !== 1) y = g.op('Mul', [y, g.floats([t.coef])]);
    perDen.set(t.den, perDen.has(t.den) ? g.op('Add', [perDen.get(t.den)!, y]) : y);
  }
  const parts = [...perDen].map(([j, v]) => g.op('Mul', [v, s.unsq(p.factors[j])]));
  return parts.length === 1 ? parts[0] : g.op('Sum', parts);
}
