/**
 * Emits the forward pass of an IR model into a GraphBuilder. Shared by every compiled graph:
 * the forward runs once per input (batch B) and its activations, masks and max-pool indices are
 * broadcast over the seed dimension of the backward / forward-mode passes.
 */
import type { ConvOp, Layer, Model, PoolOp, Shape } from '../model/ir.js';
import type { GraphBuilder } from './builder.js';
import { emitSoftmax, emitUnary } from './elementwise.js';
import { padTensor, reduceTensor, sliceTensor, transposeTensor } from './routing.js';

export interface ForwardValues {
  /** IR tensor name → ONNX value name (batch B) */
  values: Map<string, string>;
  /** max-pool layer name → Indices value */
  indices: Map<string, string>;
  /** IR param name → ONNX value (initializer, or graph input when params are trainable) */
  params: Map<string, string>;
}

export function convAttrs(op: ConvOp) {
  return {
    kernel_shape: op.kernel,
    strides: op.strides,
    pads: [op.pads[0], op.pads[1], op.pads[2], op.pads[3]],
    dilations: op.dilations,
    group: op.group,
  };
}

export function poolAttrs(op: PoolOp) {
  const a: Record<string, number | number[]> = {
    kernel_shape: op.kernel,
    strides: op.strides,
    pads: [op.pads[0], op.pads[1], op.pads[2], op.pads[3]],
    ceil_mode: op.ceil ? 1 : 0,
  };
  if (op.type === 'maxpool') a.dilations = op.dilations;
  else a.count_include_pad = op.countIncludePad ? 1 : 0;
  return a;
}

/** Per-channel parameter [C] as a broadcastable [C,1,1] (or [C] for vectors). */
export function channelShape(shape: Shape): number[] {
  return shape.length === 3 ? [shape[0], 1, 1] : [shape[0]];
}

export function emitParams(g: GraphBuilder, model: Model, asInputs = false): Map<string, string> {
  const params = new Map<string, string>();
  const used = new Set(
    model.layers.flatMap((l) =>
      Object.values(l.op).filter((v): v is string => typeof v === 'string' && model.params.has(v)),
    ),
  );
  for (const [name, p] of model.params) {
    if (!used.has(name)) continue;
    if (asInputs) params.set(name, g.input({ name: `param:${name}`, dims: p.dims }));
    else params.set(name, g.initializer(name, p.dims, p.data));
  }
  return params;
}

export function emitForward(
  g: GraphBuilder,
  model: Model,
  x: string,
  params: Map<string, string>,
  wantIndices: boolean,
): ForwardValues {
  const values = new Map<string, string>([[model.inputName, x]]);
  const indices = new Map<string, string>();
  for (const l of model.layers)
    values.set(l.output, emitLayer(g, model, l, values, params, indices, wantIndices));
  return { values, indices, params };
}

function emitLayer(
  g: GraphBuilder,
  model: Model,
  l: Layer,
  values: Map<string, string>,
  params: Map<string, string>,
  indices: Map<string, string>,
  wantIndices: boolean,
): string {
  const ins = l.inputs.map((t) => values.get(t)!);
  const op = l.op;
  switch (op.type) {
    case 'conv': {
      const args = [ins[0], params.get(op.weight)!];
      if (op.bias) args.push(params.get(op.bias)!);
      return g.op('Conv', args, convAttrs(op), undefined, l.name);
    }
    case 'linear': {
      const args = [ins[0], params.get(op.weight)!];
      if (op.bias) args.push(params.get(op.bias)!);
      return g.op('Gemm', args, { transB: 1 }, undefined, l.name);
    }
    case 'relu':
      return g.op('Relu', ins, {}, undefined, l.name);
    case 'maxpool': {
      if (!wantIndices) return g.op('MaxPool', ins, poolAttrs(op), undefined, l.name);
      const [y, idx] = g.opN('MaxPool', ins, poolAttrs(op), 2, undefined, l.name);
      indices.set(l.name, idx);
      return y;
    }
    case 'avgpool':
      return g.op('AveragePool', ins, poolAttrs(op));
    case 'globalavgpool':
      return g.op('GlobalAveragePool', ins);
    case 'reshape':
      return g.op('Reshape', [ins[0], g.ints([-1, ...model.shapes.get(l.output)!])], {}, undefined, l.name);
    case 'add':
      return g.op('Sum', ins);
    case 'concat':
      return g.op('Concat', ins, { axis: op.axis });
    case 'affine': {
      const cs = channelShape(model.shapes.get(l.output)!);
      const s = g.op('Reshape', [params.get(op.scale)!, g.ints(cs)]);
      const t = g.op('Reshape', [params.get(op.shift)!, g.ints(cs)]);
      return g.op('Add', [g.op('Mul', [ins[0], s]), t]);
    }
    case 'unary':
      return emitUnary(g, op, ins[0]);
    case 'pad':
      return padTensor(g, ins[0], op, model.shapes.get(l.inputs[0])!, 1, op.value);
    case 'reduce':
      return reduceTensor(g, ins[0], op, model.shapes.get(l.inputs[0])!, 1);
    case 'transpose':
      return transposeTensor(g, ins[0], op, 1);
    case 'slice':
      return sliceTensor(g, ins[0], op, 1);
    case 'mul':
      return g.op('Mul', ins);
    case 'div':
      return g.op('Div', ins);
    case 'sub':
      return g.op('Sub', ins);
    case 'softmax':
      return emitSoftmax(g, ins[0], op.axes, 1);
  }
}
