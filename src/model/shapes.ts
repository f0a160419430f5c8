/** Static shape inference for the IR (per-sample shapes, batch dimension excluded). */
import type { ConvOp, Layer, Model, PoolOp, Shape } from './ir.js';
import { ModelError, size } from './ir.js';

function windowOut(
  inp: number,
  k: number,
  s: number,
  d: number,
  p0: number,
  p1: number,
  ceil: boolean,
): number {
  const span = inp + p0 + p1 - d * (k - 1) - 1;
  if (!ceil) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  // a window must start inside the input or the leading padding (PyTorch / ORT rule)
  if ((out - 1) * s >= inp + p0) out--;
  return out;
}

export function convOutShape(op: ConvOp, inp: Shape, cout: number): Shape {
  const [, h, w] = inp;
  return [
    cout,
    windowOut(h, op.kernel[0], op.strides[0], op.dilations[0], op.pads[0], op.pads[2], false),
    windowOut(w, op.kernel[1], op.strides[1], op.dilations[1], op.pads[1], op.pads[3], false),
  ];
}

export function poolOutShape(op: PoolOp, inp: Shape): Shape {
  const [c, h, w] = inp;
  return [
    c,
    windowOut(h, op.kernel[0], op.strides[0], op.dilations[0], op.pads[0], op.pads[2], op.ceil),
    windowOut(w, op.kernel[1], op.strides[1], op.dilations[1], op.pads[1], op.pads[3], op.ceil),
  ];
}

/** numpy broadcasting of per-sample shapes of equal rank (the batch axis is shared) */
export function broadcastShape(a: Shape, b: Shape, where: string): Shape {
  const ok = a.length === b.length && a.every((d, i) => d === b[i] || d === 1 || b[i] === 1);
  if (!ok) throw new ModelError(`${where}: shapes [${a}] and [${b}] do not broadcast`);
  return a.map((d, i) => Math.max(d, b[i]));
}

/** Output shape of a layer given the shapes of its inputs; `reshapeTarget` for reshape layers. */
export function inferShape(
  model: Pick<Model, 'params'>,
  layer: Layer,
  ins: Shape[],
  reshapeTarget?: Shape,
): Shape {
  const op = layer.op;
  const where = `layer "${layer.name}" (${op.type})`;
  const need4d = () => {
    if (ins[0].length !== 3) throw new ModelError(`${where}: expects a C×H×W input, got shape [${ins[0]}]`);
  };
  switch (op.type) {
    case 'conv': {
      need4d();
      const w = model.params.get(op.weight)!;
      if (w.dims[1] * op.group !== ins[0][0]) {
        throw new ModelError(
          `${where}: weight expects ${w.dims[1] * op.group} input channels, got ${ins[0][0]}`,
        );
      }
      return convOutShape(op, ins[0], w.dims[0]);
    }
    case 'linear': {
      const w = model.params.get(op.weight)!;
      if (size(ins[0]) !== w.dims[1] || ins[0].length !== 1) {
        throw new ModelError(`${where}: expects a vector of ${w.dims[1]} features, got shape [${ins[0]}]`);
      }
      return [w.dims[0]];
    }
    case 'maxpool':
    case 'avgpool':
      need4d();
      return poolOutShape(op, ins[0]);
    case 'globalavgpool':
      need4d();
      return [ins[0][0], 1, 1];
    case 'relu':
    case 'affine':
    case 'unary':
    case 'softmax':
      return ins[0];
    case 'mul':
    case 'div':
      return broadcastShape(ins[0], ins[1], where);
    case 'sub':
      if (ins[0].join(',') !== ins[1].join(','))
        throw new ModelError(`${where}: operands have different shapes [${ins[0]}] and [${ins[1]}]`);
      return ins[0];
    case 'pad': {
      const r = ins[0].length;
      return ins[0].map((d, i) => d + op.pads[i] + op.pads[i + r]);
    }
    case 'reduce':
      return op.keepdims
        ? ins[0].map((d, i) => (op.axes.includes(i) ? 1 : d))
        : ins[0].filter((_, i) => !op.axes.includes(i));
    case 'transpose':
      return op.perm.map((p) => ins[0][p]);
    case 'slice': {
      const out = [...ins[0]];
      op.axes.forEach((ax, j) => {
        out[ax] = op.ends[j] - op.starts[j];
      });
      return out;
    }
    case 'reshape': {
      if (!reshapeTarget || size(reshapeTarget) !== size(ins[0])) {
        throw new ModelError(`${where}: cannot reshape [${ins[0]}] to [${reshapeTarget}]`);
      }
      return reshapeTarget;
    }
    case 'add': {
      for (const s of ins) {
        if (s.join(',') !== ins[0].join(',')) {
          throw new ModelError(
            `${where}: summands have different shapes ${ins.map((x) => `[${x}]`).join(' and ')}`,
          );
        }
      }
      return ins[0];
    }
    case 'concat': {
      const out = [...ins[0]];
      out[op.axis - 1] = ins.reduce((a, s) => a + s[op.axis - 1], 0);
      return out;
    }
  }
}
