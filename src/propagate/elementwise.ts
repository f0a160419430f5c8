/**
 * Element-wise layers: activations (Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu, Elu, Selu,
 * Clip, Erf) and products / quotients / differences of two activations.
 *
 * Gradient and forward mode multiply by the activation's derivative, computed once from the
 * forward values at batch B and broadcast over the seeds. The derivatives at the kinks follow
 * PyTorch's autograd (Clip as hardtanh: 0 at the bounds; HardSigmoid 0 at ±3; HardSwish
 * (x/3 + 1/2) on [−3, 3]), so the gradients match torch exports exactly away from ties.
 *
 * LRP (Zennit's conventions, DESIGN §1.5 extended):
 *  - an element-wise activation passes relevance unchanged (as ReLU);
 *  - a product a·g where g is a gate (a sigmoid / hard-sigmoid output, GELU's ½(1 + erf), or the
 *    broadcast factor of squeeze-excitation) treats the gate as a constant factor: all relevance goes to the gated
 *    signal a, none into the gate's branch (`gate: 'signal'`, the default). The alternative
 *    `gate: 'proportional'` splits it by the first-order Taylor contributions a·∂z/∂a = g·∂z/∂g = z,
 *    i.e. one half to each factor (summed over broadcast axes). A product with no recognisable gate
 *    is split proportionally in both settings. A quotient a/b passes all relevance to a;
 *  - a difference a − b is a sum with the z-rule, like Add: R_a = R·a/stab(z), R_b = −R·b/stab(z).
 * Conservation: each of these keeps Σ R (up to the stabiliser for the difference).
 */
import type { Layer, Model, Shape, UnaryOp } from '../model/ir.js';
import { size } from '../model/ir.js';
import type { GraphBuilder } from './builder.js';
import type { Seeded } from './seeded.js';

export type GateRule = 'signal' | 'proportional';

export function emitUnary(g: GraphBuilder, op: UnaryOp, x: string): string {
  switch (op.fn) {
    case 'sigmoid':
      return g.op('Sigmoid', [x]);
    case 'tanh':
      return g.op('Tanh', [x]);
    case 'hardsigmoid':
      return g.op('HardSigmoid', [x], { f_alpha: op.alpha!, f_beta: op.beta! });
    case 'hardswish':
      return g.op('HardSwish', [x]);
    case 'leakyrelu':
      return g.op('LeakyRelu', [x], { f_alpha: op.alpha! });
    case 'elu':
      return g.op('Elu', [x], { f_alpha: op.alpha! });
    case 'selu':
      return g.op('Selu', [x], { f_alpha: op.alpha!, f_gamma: op.gamma! });
    case 'clip':
      return g.op('Clip', [x, g.floats([op.min!]), g.floats([op.max!])]);
    case 'erf':
      return g.op('Erf', [x]);
  }
}

/** dy/dx at batch B from the layer's input x and output y */
export function unaryDerivative(g: GraphBuilder, op: UnaryOp, x: string, y: string): string {
  const f = (v: number) => g.floats([v]);
  const cast = (b: string) => g.op('Cast', [b], { to: 1 });
  const positive = g.op('Greater', [x, f(0)]);
  switch (op.fn) {
    // σ(x)·σ(−x) and 1/cosh²(x), not y(1 − y) and 1 − y²: 1 − y cancels where y ≈ 1
    case 'sigmoid':
      return g.op('Mul', [y, g.op('Sigmoid', [g.op('Neg', [x])])]);
    case 'tanh': {
      const c = g.op('Cosh', [x]);
      return g.op('Reciprocal', [g.op('Mul', [c, c])]);
    }
    case 'hardsigmoid': {
      const v = g.op('Add', [g.op('Mul', [x, f(op.alpha!)]), f(op.beta!)]);
      const inside = g.op('And', [g.op('Greater', [v, f(0)]), g.op('Less', [v, f(1)])]);
      return g.op('Mul', [cast(inside), f(op.alpha!)]);
    }
    case 'hardswish': {
      const mid = g.op('Add', [g.op('Div', [x, f(3)]), f(0.5)]);
      return g.op('Where', [
        g.op('Less', [x, f(-3)]),
        f(0),
        g.op('Where', [g.op('LessOrEqual', [x, f(3)]), mid, f(1)]),
      ]);
    }
    case 'leakyrelu':
      return g.op('Where', [positive, f(1), f(op.alpha!)]);
    case 'elu':
      return g.op('Where', [positive, f(1), g.op('Add', [y, f(op.alpha!)])]);
    case 'selu':
      return g.op('Where', [positive, f(op.gamma!), g.op('Add', [y, f(op.gamma! * op.alpha!)])]);
    case 'clip':
      return cast(g.op('And', [g.op('Greater', [x, f(op.min!)]), g.op('Less', [x, f(op.max!)])]));
    case 'erf':
      return g.op('Mul', [g.op('Exp', [g.op('Neg', [g.op('Mul', [x, x])])]), f(2 / Math.sqrt(Math.PI))]);
  }
}

/** Sum a [B, K, …from] value over the axes where `to` is 1 and `from` is not (adjoint of broadcasting) */
export function reduceTo(s: Seeded, v: string, from: Shape, to: Shape): string {
  const axes = to.map((d, i) => (d === 1 && from[i] !== 1 ? i + 2 : -1)).filter((a) => a >= 0);
  return axes.length === 0 ? v : s.g.op('ReduceSum', [v, s.g.ints(axes)], { keepdims: 1 });
}

/** Broadcast a [B, K, …from] value to [B, K, …to] */
function expandTo(s: Seeded, v: string, from: Shape, to: Shape): string {
  return from.join(',') === to.join(',') ? v : s.expand(v, to);
}

/**
 * Index of the gate factor of a product, or undefined when none is recognisable. A gate is a
 * Sigmoid / HardSigmoid output, or affine maps of an Erf output (GELU's ½(1 + erf(x/√2)))
 */
export function gateIndex(model: Model, layer: Layer): number | undefined {
  const producer = (t: string) => model.layers.find((l) => l.output === t);
  const isGate = layer.inputs.map((t) => {
    let prod = producer(t);
    if (prod?.op.type === 'unary') return prod.op.fn === 'sigmoid' || prod.op.fn === 'hardsigmoid';
    while (prod?.op.type === 'affine') prod = producer(prod.inputs[0]);
    return prod?.op.type === 'unary' && prod.op.fn === 'erf';
  });
  if (isGate[0] !== isGate[1]) return isGate[0] ? 0 : 1;
  const [n0, n1] = layer.inputs.map((t) => size(model.shapes.get(t)!));
  if (n0 !== n1) return n0 < n1 ? 0 : 1; // squeeze-excitation: the per-channel factor
  return undefined;
}

export interface BinaryContext {
  s: Seeded;
  l: Layer;
  lrp: boolean;
  gate: GateRule;
  /** [B, 1, …out] 1/stab(z) of the layer's output */
  norm: () => string;
}

/**
 * What the backward and forward-mode steps of mul / div / sub share: shapes, the forward values
 * and, under LRP, the one input all relevance flows through (`signal`; undefined: split halves).
 */
function binaryParts(c: BinaryContext) {
  const { s, l } = c;
  const [sa, sb] = l.inputs.map((t) => s.shape(t));
  const [a, b] = l.inputs.map((t) => s.act(t));
  const op = l.op.type;
  const gi = op === 'mul' ? gateIndex(s.model, l) : 1;
  const signal = gi !== undefined && !(op === 'mul' && c.gate === 'proportional') ? 1 - gi : undefined;
  return { s, g: s.g, op, sa, sb, so: s.shape(l.output), a, b, signal };
}

/** Input gradients (or relevances) of mul / div / sub; undefined: nothing flows into that input */
export function binaryBackward(c: BinaryContext, gOut: string): (string | undefined)[] {
  const { s, g, op, sa, sb, so, a, b, signal } = binaryParts(c);
  if (c.lrp) {
    if (op === 'sub') {
      const q = g.op('Mul', [gOut, c.norm()]);
      return [g.op('Mul', [q, a]), g.op('Neg', [g.op('Mul', [q, b])])];
    }
    if (signal !== undefined) {
      const out: (string | undefined)[] = [undefined, undefined];
      out[signal] = reduceTo(s, gOut, so, [sa, sb][signal]);
      return out;
    }
    const half = g.op('Mul', [gOut, g.floats([0.5])]);
    return [reduceTo(s, half, so, sa), reduceTo(s, half, so, sb)];
  }
  switch (op) {
    case 'sub':
      return [gOut, g.op('Neg', [gOut])];
    case 'mul':
      return [reduceTo(s, g.op('Mul', [gOut, b]), so, sa), reduceTo(s, g.op('Mul', [gOut, a]), so, sb)];
    default: {
      // d(a/b) = da/b − a·db/b²
      const ga = g.op('Div', [gOut, b]);
      const gb = g.op('Neg', [g.op('Mul', [ga, g.op('Div', [a, b])])]);
      return [reduceTo(s, ga, so, sa), reduceTo(s, gb, so, sb)];
    }
  }
}

/** Forward mode (JVP, or the transpose of the LRP map) of mul / div / sub */
export function binaryForward(c: BinaryContext, vs: string[]): string {
  const { s, g, op, sa, sb, so, a, b, signal } = binaryParts(c);
  if (c.lrp) {
    if (op === 'sub')
      return g.op('Mul', [g.op('Sub', [g.op('Mul', [vs[0], a]), g.op('Mul', [vs[1], b])]), c.norm()]);
    if (signal !== undefined) return expandTo(s, vs[signal], [sa, sb][signal], so);
    return g.op('Mul', [
      g.op('Add', [expandTo(s, vs[0], sa, so), expandTo(s, vs[1], sb, so)]),
      g.floats([0.5]),
    ]);
  }
  switch (op) {
    case 'sub':
      return g.op('Sub', [vs[0], vs[1]]);
    case 'mul':
      return g.op('Add', [g.op('Mul', [vs[0], b]), g.op('Mul', [a, vs[1]])]);
    default:
      return g.op('Sub', [
        g.op('Div', [vs[0], b]),
        g.op('Mul', [vs[1], g.op('Div', [a, g.op('Mul', [b, b])])]),
      ]);
  }
}

/** softmax over per-sample axes at `lead` leading axes: exp(x − max) / Σ exp(x − max) */
export function emitSoftmax(g: GraphBuilder, x: string, axes: number[], lead: number): string {
  const ax = axes.map((a) => a + lead);
  const e = g.op('Exp', [g.op('Sub', [x, g.op('ReduceMax', [x], { axes: ax, keepdims: 1 })])]);
  return g.op('Div', [e, g.op('ReduceSum', [e, g.ints(ax)], { keepdims: 1 })]);
}

/**
 * Softmax's Jacobian (symmetric) applied in the seeded layout: y ⊙ (v − Σ_axes v ⊙ y), y the
 * [B, 1, …] forward output. LRP has no rule for it (Zennit neither): it takes the gradient.
 */
export function softmaxJacobian(s: Seeded, y: string, v: string, axes: number[]): string {
  const g = s.g;
  const dot = g.op('ReduceSum', [g.op('Mul', [v, y]), g.ints(axes.map((a) => a + 2))], { keepdims: 1 });
  return g.op('Mul', [y, g.op('Sub', [v, dot])]);
}
