/**
 * Max-pool in the backward and forward-mode passes: the winner of each window takes all (the
 * gradient of max, and LRP's winner-take-all), the first index winning ties, exactly as the
 * `Indices` output of ONNX Runtime's CPU MaxPool.
 *
 * Two forms:
 *  - 'indices': MaxPool's `Indices` output, ScatterElements(reduction='add') backward and
 *    GatherElements forward mode. ONNX Runtime's WebGPU provider rejects the Indices output
 *    ("The Indices output is not supported yet").
 *  - 'window': no Indices. The pool windows are unfolded with a Conv whose kernel is one-hot per
 *    window offset (kh·kw output channels; exact: one non-zero product per output), the winner mask
 *    is computed by elementwise ops, and the backward folds the masked windows back with the
 *    ConvTranspose of the same one-hot kernel (the adjoint of the unfold). Only Conv,
 *    ConvTranspose, ReduceMax, ReduceSum, Equal, Cast, Mul, Add, Reshape, Slice and Pad: ops every
 *    provider runs.
 *
 * Winner mask: P = windows of the layer input ([N, kh·kw, Ho, Wo]) + a constant −3e38 at offsets
 * that fall into the padding; E = [P = max P] marks every maximum; the first maximum in window
 * order (row-major over the kernel, which is also ascending input index) is where E·(kh·kw − t)
 * is largest. All comparisons are exact in float32.
 */
import type { Layer, PoolOp, Shape } from '../model/ir.js';
import { size } from '../model/ir.js';
import type { Seeded } from './seeded.js';

export type MaxPoolForm = 'indices' | 'window';

/** Stand-in for −∞ in padded window positions (finite, so that 0·pad stays 0 in the unfold). */
const PAD_VALUE = -3e38;

/** Geometry of the unfold: padded extent the windows need, and how the input is cropped/padded. */
function geometry(op: PoolOp, inS: Shape, outS: Shape) {
  return [0, 1].map((ax) => {
    const span = (outS[ax + 1] - 1) * op.strides[ax] + (op.kernel[ax] - 1) * op.dilations[ax] + 1;
    const head = op.pads[ax];
    // rows past the last window (floor mode) are never read: crop them before the unfold
    const tail = span - head - inS[ax + 1];
    return { span, head, tail };
  });
}

/** [kk, 1, kh, kw] one-hot kernel: output channel t = p·kw + q picks window offset (p, q). */
function oneHotKernel(s: Seeded, op: PoolOp): string {
  const [kh, kw] = op.kernel;
  const e = new Float32Array(kh * kw * kh * kw);
  for (let t = 0; t < kh * kw; t++) e[t * kh * kw + t] = 1;
  return s.g.initializer('pool_onehot', [kh * kw, 1, kh, kw], e);
}

function convAttrs(op: PoolOp, geo: ReturnType<typeof geometry>) {
  return {
    kernel_shape: op.kernel,
    strides: op.strides,
    dilations: op.dilations,
    pads: [geo[0].head, geo[1].head, Math.max(0, geo[0].tail), Math.max(0, geo[1].tail)],
  };
}

/** [N, 1, H, W] → [N, kk, Ho, Wo]: every window's values, zero where it overlaps the padding */
function unfold(s: Seeded, op: PoolOp, v: string, inS: Shape, outS: Shape): string {
  const g = s.g;
  const geo = geometry(op, inS, outS);
  let x = v;
  if (geo[0].tail < 0 || geo[1].tail < 0) {
    const ends = [0, 1].map((ax) => inS[ax + 1] + Math.min(0, geo[ax].tail));
    x = g.op('Slice', [x, g.ints([0, 0]), g.ints(ends), g.ints([2, 3])]);
  }
  return g.op('Conv', [x, oneHotKernel(s, op)], convAttrs(op, geo));
}

/** adjoint of unfold: [N, kk, Ho, Wo] → [N, 1, H, W] (overlapping windows add up) */
function fold(s: Seeded, op: PoolOp, w: string, inS: Shape, outS: Shape): string {
  const g = s.g;
  const geo = geometry(op, inS, outS);
  const y = g.op('ConvTranspose', [w, oneHotKernel(s, op)], convAttrs(op, geo));
  if (geo[0].tail >= 0 && geo[1].tail >= 0) return y;
  const pads = [0, 0, 0, 0, 0, 0, Math.max(0, -geo[0].tail), Math.max(0, -geo[1].tail)];
  return g.op('Pad', [y, g.ints(pads)], { mode: 'constant' });
}

/** Offsets of each window that lie in the padding: [kk, Ho, Wo] of 0 (inside) or PAD_VALUE. */
function paddingPenalty(op: PoolOp, inS: Shape, outS: Shape): Float32Array {
  const [kh, kw] = op.kernel;
  const [, ho, wo] = outS;
  const pen = new Float32Array(kh * kw * ho * wo);
  for (let p = 0; p < kh; p++)
    for (let q = 0; q < kw; q++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++) {
          const y = i * op.strides[0] - op.pads[0] + p * op.dilations[0];
          const x = j * op.strides[1] - op.pads[1] + q * op.dilations[1];
          if (y < 0 || y >= inS[1] || x < 0 || x >= inS[2]) pen[((p * kw + q) * ho + i) * wo + j] = PAD_VALUE;
        }
  return pen;
}

/** [B, 1, C, kk, Ho, Wo] float mask: 1 at each window's winner (first maximum), else 0. */
function winnerMask(s: Seeded, l: Layer, inS: Shape, outS: Shape): string {
  const g = s.g;
  const op = l.op as PoolOp;
  const kk = op.kernel[0] * op.kernel[1];
  const x = s.fwd.values.get(l.inputs[0])!;
  const pen = g.initializer('pool_pad', [kk, outS[1], outS[2]], paddingPenalty(op, inS, outS));
  const p = g.op('Add', [
    unfold(s, op, g.op('Reshape', [x, g.ints([-1, 1, inS[1], inS[2]])]), inS, outS),
    pen,
  ]);
  const isMax = g.op('Cast', [g.op('Equal', [p, g.op('ReduceMax', [p], { axes: [1], keepdims: 1 })])], {
    to: 1,
  });
  const rank = g.initializer(
    'pool_rank',
    [kk, 1, 1],
    Float32Array.from({ length: kk }, (_, t) => kk - t),
  );
  const score = g.op('Mul', [isMax, rank]);
  const first = g.op('Equal', [score, g.op('ReduceMax', [score], { axes: [1], keepdims: 1 })]);
  return g.op('Reshape', [g.op('Cast', [first], { to: 1 }), g.ints([-1, 1, inS[0], kk, outS[1], outS[2]])]);
}

/** A max-pool layer in a seeded pass: its in/out shapes and the form to emit. */
export interface MaxPoolStep {
  s: Seeded;
  l: Layer;
  inS: Shape;
  outS: Shape;
  form: MaxPoolForm;
}

/** Backward through a max-pool: [B, K, C, Ho, Wo] → [B, K, C, H, W]. */
export function maxPoolBackward({ s, l, inS, outS, form }: MaxPoolStep, gOut: string): string {
  const g = s.g;
  if (form === 'indices') {
    const idx = s.poolIndex(l.name, inS, outS);
    const scattered = g.op('ScatterElements', [s.zeros(inS), idx, s.flat(gOut, [size(outS)])], {
      axis: 1,
      reduction: 'add',
    });
    return s.unflat(scattered, inS);
  }
  const op = l.op as PoolOp;
  const kk = op.kernel[0] * op.kernel[1];
  const masked = g.op('Mul', [s.unflat(gOut, [outS[0], 1, outS[1], outS[2]]), winnerMask(s, l, inS, outS)]);
  return s.unflat(fold(s, op, s.flat(masked, [kk, outS[1], outS[2]]), inS, outS), inS);
}

/** Forward mode (tangent) through a max-pool: [B, K, C, H, W] → [B, K, C, Ho, Wo]. */
export function maxPoolForward({ s, l, inS, outS, form }: MaxPoolStep, v: string): string {
  const g = s.g;
  if (form === 'indices') {
    const idx = s.poolIndex(l.name, inS, outS);
    return s.unflat(g.op('GatherElements', [s.flat(v, [size(inS)]), idx], { axis: 1 }), outS);
  }
  const op = l.op as PoolOp;
  const kk = op.kernel[0] * op.kernel[1];
  const windows = s.unflat(unfold(s, op, s.flat(v, [1, inS[1], inS[2]]), inS, outS), [
    inS[0],
    kk,
    outS[1],
    outS[2],
  ]);
  return g.op('ReduceSum', [g.op('Mul', [windows, winnerMask(s, l, inS, outS)]), g.ints([3])], {
    keepdims: 0,
  });
}
