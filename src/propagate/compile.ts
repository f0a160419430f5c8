/**
 * The propagation compiler: from an IR model, emit ONNX graphs that ONNX Runtime executes.
 *
 *  - backward:     inputs x [B,...], seeds [B,K,c], seedScaling [2] → attributions [B,K,...], logits [B,c]
 *                  (mode 'gradient': the VJP; mode 'lrp': the rule-modified backward pass)
 *  - forward-mode: inputs x [B,...], tangents [B,K,...] → products [B,K,c], logits [B,c]
 *                  (the JVP of the linearised network, or the transposed LRP map Rᵀu)
 *  - forward:      inputs x [B,...] → logits [B,c]
 *
 * The forward pass runs once per input; its masks and arg-max indices broadcast over the K seeds.
 */
import type { Layer, Model, PoolOp, UnaryOp } from '../model/ir.js';
import { isParametric, size } from '../model/ir.js';
import type { BasicRule, Rule } from '../rules/rules.js';
import { type ExternalWeights, GraphBuilder } from './builder.js';
import {
  binaryBackward,
  binaryForward,
  type GateRule,
  softmaxJacobian,
  unaryDerivative,
} from './elementwise.js';
import { channelShape, emitForward, emitParams, type ForwardValues, poolAttrs } from './forward.js';
import { type MaxPoolForm, maxPoolBackward, maxPoolForward } from './maxpool.js';
import { type MaxPoolRule, maxPoolAverageBackward, maxPoolAverageForward } from './maxpool-average.js';
import {
  padAdjoint,
  padTensor,
  reduceCount,
  reduceSpread,
  reduceSumTensor,
  reduceTensor,
  sliceAdjoint,
  sliceTensor,
  transposeAdjoint,
  transposeTensor,
} from './routing.js';
import {
  nonNegativeTensors,
  type PreparedRule,
  prepareRule,
  ruleBackward,
  ruleForward,
} from './rule-terms.js';
import { applyLinear, applyTransposed, avgPoolAdjoint, Seeded } from './seeded.js';

export type PassMode = (
  | { mode: 'gradient' }
  | {
      mode: 'lrp';
      rules: Map<string, Rule>;
      inputNonNegative?: boolean;
      /** max-pool: winner takes all (default) or proportional as an average pool */
      maxpoolRule?: MaxPoolRule;
      /** products with a gate (elementwise.ts): all relevance to the signal (default) or halves */
      gateRule?: GateRule;
    }
) & {
  /** backward of stride-1 convs: 'auto' (flipped-kernel Conv) or always ConvTranspose (benchmarks) */
  convBackward?: 'auto' | 'conv-transpose';
  /** max-pool backward / forward mode (propagate/maxpool.ts); the runner picks it per provider */
  maxPool?: MaxPoolForm;
};

/** Whether the forward pass must emit MaxPool's Indices output for this pass. */
export const maxPoolForm = (pass: Pick<PassMode, 'maxPool'>): MaxPoolForm => pass.maxPool ?? 'indices';

export interface CompiledGraph {
  /** the ONNX model with every initializer inline (encoded on first use) */
  readonly bytes: Uint8Array;
  /** the model with large initializers as references placed by `external` (engines that load from files) */
  encode(external?: ExternalWeights): Uint8Array;
  /** bytes of its initializers (an inline graph's size, less a little) */
  initializerBytes: number;
  inputs: string[];
  outputs: string[];
}

/** a graph's CompiledGraph (shared with training.ts) */
export function compiled(g: GraphBuilder, name: string, inputs: string[], outputs: string[]): CompiledGraph {
  let inline: Uint8Array | undefined;
  return {
    get bytes() {
      inline ??= g.build(name);
      return inline;
    },
    encode: (external) => (external ? g.build(name, external) : g.build(name)),
    initializerBytes: g.initializerBytes,
    inputs,
    outputs,
  };
}

export const IO = {
  x: 'x',
  seeds: 'seeds',
  seedScaling: 'seedScaling',
  tangents: 'tangents',
  attribution: 'attribution',
  logits: 'logits',
  products: 'products',
};

function header(model: Model) {
  const g = new GraphBuilder();
  const x = g.input({ name: IO.x, dims: ['B', ...model.inputShape] });
  return { g, x };
}

function outSize(model: Model) {
  return size(model.shapes.get(model.outputName)!);
}

function logitsOut(g: GraphBuilder, model: Model, fwd: ForwardValues) {
  const flat = g.op('Reshape', [fwd.values.get(model.outputName)!, g.ints([-1, outSize(model)])]);
  g.output(flat, { as: IO.logits, dims: ['B', outSize(model)] });
}

export function compileForward(model: Model): CompiledGraph {
  const { g, x } = header(model);
  const fwd = emitForward(g, model, x, emitParams(g, model), false);
  logitsOut(g, model, fwd);
  return compiled(g, 'forward', [IO.x], [IO.logits]);
}

/**
 * A layer's prepared rule terms, once per forward pass: the backward and forward-mode branches of
 * `compilePasses` then share the modified weights (one constant-folded copy, not two).
 */
const preparedRules = new WeakMap<ForwardValues, Map<string, PreparedRule>>();
function preparedRule(s: Seeded, l: Layer, rule: BasicRule, nonNeg: Set<string>): PreparedRule {
  const byLayer = preparedRules.get(s.fwd) ?? new Map<string, PreparedRule>();
  preparedRules.set(s.fwd, byLayer);
  const p = byLayer.get(l.name) ?? prepareRule(s, l, rule, nonNeg.has(l.inputs[0]));
  byLayer.set(l.name, p);
  return p;
}

function ruleOf(pass: PassMode, l: Layer) {
  if (pass.mode !== 'lrp' || !isParametric(l.op)) return undefined;
  const r = pass.rules.get(l.name);
  return r && r.kind === 'basic' ? r : undefined;
}

/** What the backward and forward-mode emitters share: the graph, one forward pass, LRP's rules. */
interface PassContext {
  g: GraphBuilder;
  model: Model;
  pass: PassMode;
  fwd: ForwardValues;
  nonNeg: Set<string>;
}

function passContext(model: Model, pass: PassMode) {
  const { g, x } = header(model);
  const fwd = emitForward(g, model, x, emitParams(g, model), maxPoolForm(pass) === 'indices');
  const nonNeg = nonNegativeTensors(model, pass.mode === 'lrp' && !!pass.inputNonNegative);
  return { g, model, pass, fwd, nonNeg };
}

/**
 * How a backward run scales its seeds by its own outputs f (input seedScaling [2] = the two
 * flags as 0/1): seed_k × 0 where `zeroInactive` and f_k ≤ 0, else × 1/f_k where `divide`, else
 * × 1. A run then yields columns of R scaled as mf-operator.ts scales them without a forward
 * pass for f first. Both off: the seeds as given, bitwise.
 */
export interface SeedScaling {
  divide: boolean;
  zeroInactive: boolean;
}

/** the seedScaling input's value */
export const seedScalingInput = (s?: SeedScaling): Float32Array =>
  Float32Array.of(s?.divide ? 1 : 0, s?.zeroInactive ? 1 : 0);

/** seeds [B,K,c] × S [B,1,c] from the logits (SeedScaling); nested Where, so 1/0 never meets 0 */
function scaledSeeds(g: GraphBuilder, model: Model, fwd: ForwardValues, seeds: string): string {
  const scaling = g.input({ name: IO.seedScaling, dims: [2] });
  const flag = (i: number) =>
    g.op('Greater', [g.op('Slice', [scaling, g.ints([i]), g.ints([i + 1])]), g.floats([0])]);
  const f = g.op('Reshape', [fwd.values.get(model.outputName)!, g.ints([-1, 1, outSize(model)])]);
  const one = g.floats([1]);
  const inv = g.op('Where', [flag(0), g.op('Reciprocal', [f]), one]);
  const inactive = g.op('Where', [flag(1), g.floats([0]), inv]);
  return g.op('Mul', [seeds, g.op('Where', [g.op('Greater', [f, g.floats([0])]), inv, inactive])]);
}

/** seeds [B,K,c] (scaled by SeedScaling) → attribution [B,K,...input] on the context's forward pass */
function emitBackward(ctx: PassContext): void {
  const { g, model, pass, fwd } = ctx;
  const seeds = g.input({ name: IO.seeds, dims: ['B', 'K', outSize(model)] });
  const bk = g.op('Slice', [g.op('Shape', [seeds]), g.ints([0]), g.ints([2])]);
  const s = new Seeded(g, model, fwd, bk, pass.convBackward === 'conv-transpose');
  const scaled = scaledSeeds(g, model, fwd, seeds);
  const attribution = backwardSweep(s, pass, ctx.nonNeg, s.unflat(scaled, s.shape(model.outputName)));
  g.output(attribution, { as: IO.attribution, dims: ['B', 'K', ...model.inputShape] });
}

export function compileBackward(model: Model, pass: PassMode): CompiledGraph {
  const ctx = passContext(model, pass);
  emitBackward(ctx);
  logitsOut(ctx.g, model, ctx.fwd);
  return compiled(ctx.g, 'backward', [IO.x, IO.seeds, IO.seedScaling], [IO.attribution, IO.logits]);
}

/**
 * Backward and forward mode in one graph over one forward pass: inputs x, seeds [B,K₁,c] and
 * tangents [B,K₂,...input]; outputs attribution, products and logits. A run feeds zero seeds
 * (K₁ = 0) or zero tangents (K₂ = 0) to the branch it does not need, which then costs next to
 * nothing. One session instead of two means one copy of the weights and of LRP's constant-folded
 * modified weights (VGG16: ≈ 1.3-1.5 GB per session) and one session creation (≈ 10 s).
 */
export function compilePasses(model: Model, pass: PassMode): CompiledGraph {
  const ctx = passContext(model, pass);
  emitBackward(ctx);
  emitForwardMode(ctx);
  logitsOut(ctx.g, model, ctx.fwd);
  return compiled(
    ctx.g,
    'passes',
    [IO.x, IO.seeds, IO.seedScaling, IO.tangents],
    [IO.attribution, IO.products, IO.logits],
  );
}

/**
 * Reverse sweep over the layers from the output gradient (seeded layout) to the input;
 * `visit` sees every layer's output gradient (the training graph takes weight gradients there).
 */
export function backwardSweep(
  s: Seeded,
  pass: PassMode,
  nonNeg: Set<string>,
  top: string,
  visit?: (layer: Layer, gOut: string) => void,
): string {
  const { g, model } = s;
  const grads = new Map<string, string[]>();
  const push = (t: string, v: string) => grads.set(t, [...(grads.get(t) ?? []), v]);
  push(model.outputName, top);
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const l = model.layers[i];
    const gs = grads.get(l.output);
    if (!gs) continue;
    const gOut = gs.length === 1 ? gs[0] : g.op('Sum', gs);
    visit?.(l, gOut);
    for (const [j, v] of backwardLayer(s, l, gOut, pass, nonNeg).entries()) if (v) push(l.inputs[j], v);
  }
  const gin = grads.get(model.inputName);
  if (!gin) throw new Error('the output does not depend on the input');
  return gin.length === 1 ? gin[0] : g.op('Sum', gin);
}

function averagesMaxPool(pass: PassMode): boolean {
  return pass.mode === 'lrp' && pass.maxpoolRule === 'average';
}

/** What every layer step needs: shapes, the mode, and the Norm rule's 1/stab(output) factor */
function layerContext(s: Seeded, l: Layer, pass: PassMode) {
  return {
    g: s.g,
    op: l.op,
    inS: s.shape(l.inputs[0]),
    outS: s.shape(l.output),
    lrp: pass.mode === 'lrp',
    norm: () => s.unsq(s.g.op('Reciprocal', [s.stabilize(s.fwd.values.get(l.output)!, 1e-6)])),
    binary: () => ({
      s,
      l,
      lrp: pass.mode === 'lrp',
      gate: (pass.mode === 'lrp' && pass.gateRule) || 'signal',
      norm: () => s.unsq(s.g.op('Reciprocal', [s.stabilize(s.fwd.values.get(l.output)!, 1e-6)])),
    }),
    /** [B, 1, …] derivative of an element-wise activation */
    derivative: () =>
      s.unsq(
        unaryDerivative(s.g, l.op as UnaryOp, s.fwd.values.get(l.inputs[0])!, s.fwd.values.get(l.output)!),
      ),
  };
}

/** Input gradients (relevances) of one layer; undefined where nothing flows into an input */
function backwardLayer(
  s: Seeded,
  l: Layer,
  gOut: string,
  pass: PassMode,
  nonNeg: Set<string>,
): (string | undefined)[] {
  const { g, op, inS, outS, lrp, norm, binary, derivative } = layerContext(s, l, pass);
  switch (op.type) {
    case 'conv':
    case 'linear': {
      const rule = ruleOf(pass, l);
      if (rule) return [ruleBackward(s, l, preparedRule(s, l, rule, nonNeg), gOut)];
      return [applyTransposed(s, op, s.fwd.params.get(op.weight)!, gOut, inS, outS)];
    }
    case 'relu':
      if (lrp) return [gOut];
      return [
        g.op('Mul', [gOut, g.op('Cast', [g.op('Greater', [s.act(l.output), g.floats([0])])], { to: 1 })]),
      ];
    case 'maxpool':
      if (averagesMaxPool(pass)) return [maxPoolAverageBackward(s, l, gOut)];
      return [maxPoolBackward({ s, l, inS, outS, form: maxPoolForm(pass) }, gOut)];
    case 'avgpool': {
      if (!lrp) return [avgPoolAdjoint(s, op as PoolOp, gOut, inS, outS)];
      return [
        g.op('Mul', [
          avgPoolAdjoint(s, op as PoolOp, g.op('Mul', [gOut, norm()]), inS, outS),
          s.act(l.inputs[0]),
        ]),
      ];
    }
    case 'globalavgpool': {
      const spread = (v: string) => g.op('Div', [s.expand(v, inS), g.floats([inS[1] * inS[2]])]);
      if (!lrp) return [spread(gOut)];
      return [g.op('Mul', [spread(g.op('Mul', [gOut, norm()])), s.act(l.inputs[0])])];
    }
    case 'reshape':
      return [s.unflat(gOut, inS)];
    case 'add': {
      if (!lrp) return l.inputs.map(() => gOut);
      const q = g.op('Mul', [gOut, norm()]);
      return l.inputs.map((t) => g.op('Mul', [q, s.act(t)]));
    }
    case 'concat': {
      const sizes = l.inputs.map((t) => s.shape(t)[op.axis - 1]);
      return g.opN('Split', [gOut, g.ints(sizes)], { axis: op.axis + 1 }, sizes.length);
    }
    case 'affine': {
      const scale = g.op('Reshape', [s.fwd.params.get(op.scale)!, g.ints(channelShape(outS))]);
      if (!lrp) return [g.op('Mul', [gOut, scale])];
      return [g.op('Mul', [g.op('Mul', [gOut, norm()]), g.op('Mul', [s.act(l.inputs[0]), scale])])];
    }
    case 'unary':
      // LRP: element-wise activations pass relevance unchanged (as ReLU)
      return [lrp ? gOut : g.op('Mul', [gOut, derivative()])];
    case 'pad':
      return [padAdjoint(s, op, gOut, inS)];
    case 'slice':
      return [sliceAdjoint(s, op, gOut, inS)];
    case 'transpose':
      return [transposeAdjoint(s, op, gOut)];
    case 'reduce': {
      // LRP: the z-rule of an average pool: R_in = x · w · spread(R_out / stab(y)), w = 1/n or 1
      const w = op.mean ? 1 / reduceCount(op, inS) : 1;
      const spread = (v: string) => g.op('Mul', [reduceSpread(s, op, v, inS), g.floats([w])]);
      if (!lrp) return [spread(gOut)];
      return [g.op('Mul', [spread(g.op('Mul', [gOut, norm()])), s.act(l.inputs[0])])];
    }
    case 'mul':
    case 'div':
    case 'sub':
      return binaryBackward(binary(), gOut);
    case 'softmax':
      return [softmaxJacobian(s, s.act(l.output), gOut, op.axes)];
  }
}

/** tangents [B,K,...input] → products [B,K,c] on the context's forward pass */
function emitForwardMode(ctx: PassContext): void {
  const { g, model, pass, fwd } = ctx;
  const tangents = g.input({ name: IO.tangents, dims: ['B', 'K', ...model.inputShape] });
  const bk = g.op('Slice', [g.op('Shape', [tangents]), g.ints([0]), g.ints([2])]);
  const s = new Seeded(g, model, fwd, bk, pass.convBackward === 'conv-transpose');
  const tv = new Map<string, string>([[model.inputName, tangents]]);
  for (const l of model.layers)
    tv.set(
      l.output,
      forwardLayer(
        s,
        l,
        l.inputs.map((t) => tv.get(t)!),
        pass,
        ctx.nonNeg,
      ),
    );
  const c = outSize(model);
  const prod = g.op('Reshape', [tv.get(model.outputName)!, g.op('Concat', [bk, g.ints([c])], { axis: 0 })], {
    allowzero: 1,
  });
  g.output(prod, { as: IO.products, dims: ['B', 'K', c] });
}

export function compileForwardMode(model: Model, pass: PassMode): CompiledGraph {
  const ctx = passContext(model, pass);
  emitForwardMode(ctx);
  logitsOut(ctx.g, model, ctx.fwd);
  return compiled(ctx.g, 'forward-mode', [IO.x, IO.tangents], [IO.products, IO.logits]);
}

function forwardLayer(s: Seeded, l: Layer, vs: string[], pass: PassMode, nonNeg: Set<string>): string {
  const { g, op, inS, outS, lrp, norm, binary, derivative } = layerContext(s, l, pass);
  const v = vs[0];
  switch (op.type) {
    case 'conv':
    case 'linear': {
      const rule = ruleOf(pass, l);
      if (rule) return ruleForward(s, l, preparedRule(s, l, rule, nonNeg), v);
      return applyLinear(s, op, s.fwd.params.get(op.weight)!, v, inS, outS);
    }
    case 'relu':
      if (lrp) return v;
      return g.op('Mul', [v, g.op('Cast', [g.op('Greater', [s.act(l.output), g.floats([0])])], { to: 1 })]);
    case 'maxpool':
      if (averagesMaxPool(pass)) return maxPoolAverageForward(s, l, v);
      return maxPoolForward({ s, l, inS, outS, form: maxPoolForm(pass) }, v);
    case 'avgpool': {
      const pool = (t: string) =>
        s.unflat(g.op('AveragePool', [s.flat(t, inS)], poolAttrs(op as PoolOp)), outS);
      if (!lrp) return pool(v);
      return g.op('Mul', [pool(g.op('Mul', [v, s.act(l.inputs[0])])), norm()]);
    }
    case 'globalavgpool': {
      const pool = (t: string) => s.unflat(g.op('GlobalAveragePool', [s.flat(t, inS)]), outS);
      if (!lrp) return pool(v);
      return g.op('Mul', [pool(g.op('Mul', [v, s.act(l.inputs[0])])), norm()]);
    }
    case 'reshape':
      return s.unflat(s.flat(v, inS), outS);
    case 'add': {
      if (!lrp) return g.op('Sum', vs);
      return g.op('Mul', [
        g.op(
          'Sum',
          vs.map((t, j) => g.op('Mul', [t, s.act(l.inputs[j])])),
        ),
        norm(),
      ]);
    }
    case 'concat':
      return g.op('Concat', vs, { axis: op.axis + 1 });
    case 'affine': {
      const scale = g.op('Reshape', [s.fwd.params.get(op.scale)!, g.ints(channelShape(outS))]);
      if (!lrp) return g.op('Mul', [v, scale]);
      return g.op('Mul', [g.op('Mul', [v, g.op('Mul', [s.act(l.inputs[0]), scale])]), norm()]);
    }
    case 'unary':
      return lrp ? v : g.op('Mul', [v, derivative()]);
    case 'pad':
      // a tangent pads with zeros whatever the constant (its derivative is 0)
      return padTensor(g, v, op, inS, 2, 0);
    case 'slice':
      return sliceTensor(g, v, op, 2);
    case 'transpose':
      return transposeTensor(g, v, op, 2);
    case 'reduce': {
      if (!lrp) return reduceTensor(g, v, op, inS, 2);
      const w = op.mean ? 1 / reduceCount(op, inS) : 1;
      const summed = reduceSumTensor(g, g.op('Mul', [v, s.act(l.inputs[0])]), op, 2);
      return g.op('Mul', [g.op('Mul', [summed, g.floats([w])]), norm()]);
    }
    case 'mul':
    case 'div':
    case 'sub':
      return binaryForward(binary(), vs);
    case 'softmax':
      return softmaxJacobian(s, s.act(l.output), v, op.axes);
  }
}
