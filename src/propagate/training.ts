/**
 * Training graph: forward with the parameters as graph inputs, softmax cross-entropy, and the
 * gradients of the mean loss with respect to every weight and bias (Conv with group 1, Linear).
 * Weight gradients are themselves convolutions: for stride s and dilation d,
 *   dW[o,i,p,q] = Σ_{b,y,x} g[b,o,y,x] · a_pad[b,i,p·d + y·s, q·d + x·s]
 * = Conv(aᵀ, gᵀ) with batch and channel axes swapped, stride d, dilation s, cropped to the kernel.
 */
import type { ConvOp, Model } from '../model/ir.js';
import { size } from '../model/ir.js';
import { GraphBuilder } from './builder.js';
import { backwardSweep, type CompiledGraph, compiled, IO } from './compile.js';
import { emitForward, emitParams } from './forward.js';
import type { MaxPoolForm } from './maxpool.js';
import { Seeded } from './seeded.js';

export const TRAIN_IO = { labels: 'labels', loss: 'loss', grad: (p: string) => `grad:${p}` };

export function compileTrainingStep(model: Model, maxPool: MaxPoolForm = 'indices'): CompiledGraph {
  const g = new GraphBuilder();
  const c = size(model.shapes.get(model.outputName)!);
  const x = g.input({ name: IO.x, dims: ['B', ...model.inputShape] });
  const labels = g.input({ name: TRAIN_IO.labels, dims: ['B', c] });
  const params = emitParams(g, model, true);
  const fwd = emitForward(g, model, x, params, maxPool === 'indices');
  const logits = g.op('Reshape', [fwd.values.get(model.outputName)!, g.ints([-1, c])]);
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const perSample = g.op('ReduceSum', [g.op('Mul', [labels, logp]), g.ints([1])], { keepdims: 0 });
  const loss = g.op('Neg', [g.op('ReduceMean', [perSample], { keepdims: 0 })]);
  const batch = g.op('Cast', [g.op('Slice', [g.op('Shape', [x]), g.ints([0]), g.ints([1])])], { to: 1 });
  const dlogits = g.op('Div', [g.op('Sub', [g.op('Softmax', [logits], { axis: 1 }), labels]), batch]);
  const seeds = g.op('Unsqueeze', [dlogits, g.ints([1])]);
  const bk = g.op('Slice', [g.op('Shape', [seeds]), g.ints([0]), g.ints([2])]);
  const s = new Seeded(g, model, fwd, bk);
  const outputs: string[] = [TRAIN_IO.loss, IO.logits];
  backwardSweep(
    s,
    { mode: 'gradient', maxPool },
    new Set(),
    s.unflat(seeds, s.shape(model.outputName)),
    (layer, gOut) => {
      const op = layer.op;
      if (op.type !== 'conv' && op.type !== 'linear') return;
      const a = fwd.values.get(layer.inputs[0])!;
      const gb = g.op('Squeeze', [gOut, g.ints([1])]); // [B, ...out]
      const w = model.params.get(op.weight)!;
      let dw: string;
      if (op.type === 'linear') {
        dw = g.op('MatMul', [g.op('Transpose', [gb], { perm: [1, 0] }), a]);
      } else {
        if (op.group !== 1) throw new Error(`training: grouped conv "${layer.name}" is not supported`);
        dw = convWeightGrad(g, op, a, gb, w.dims);
      }
      g.output(dw, { as: TRAIN_IO.grad(op.weight), dims: w.dims });
      outputs.push(TRAIN_IO.grad(op.weight));
      if (op.bias) {
        const axes = op.type === 'conv' ? [0, 2, 3] : [0];
        g.output(g.op('ReduceSum', [gb, g.ints(axes)], { keepdims: 0 }), {
          as: TRAIN_IO.grad(op.bias),
          dims: [w.dims[0]],
        });
        outputs.push(TRAIN_IO.grad(op.bias));
      }
    },
  );
  g.output(loss, { as: TRAIN_IO.loss, dims: [] });
  g.output(logits, { as: IO.logits, dims: ['B', c] });
  return compiled(
    g,
    'training',
    [IO.x, TRAIN_IO.labels, ...[...params.keys()].map((p) => `param:${p}`)],
    outputs,
  );
}

function convWeightGrad(g: GraphBuilder, op: ConvOp, a: string, gb: string, dims: number[]): string {
  const at = g.op('Transpose', [a], { perm: [1, 0, 2, 3] }); // [Cin, B, H, W]
  const gt = g.op('Transpose', [gb], { perm: [1, 0, 2, 3] }); // [Cout, B, Ho, Wo]
  const full = g.op('Conv', [at, gt], { strides: op.dilations, dilations: op.strides, pads: [...op.pads] }); // [Cin, Cout, ≥kh, ≥kw]
  const cropped = g.op('Slice', [full, g.ints([0, 0]), g.ints([dims[2], dims[3]]), g.ints([2, 3])]);
  return g.op('Transpose', [cropped], { perm: [1, 0, 2, 3] });
}
