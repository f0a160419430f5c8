/**
 * Layers that move or sum values without weights: Pad, Slice, Transpose, ReduceMean/ReduceSum.
 * Their forward op works at any number of leading (batch, seed) axes; the backward pass applies the
 * adjoint in the seeded layout [B, K, …]. LRP routes relevance through Pad/Slice/Transpose as the
 * linear maps they are (the adjoint: each output value came from one input value); a reduction is
 * an average pool over its axes and gets the same z-rule (compile.ts).
 */
import type { PadOp, ReduceOp, Shape, SliceOp, TransposeOp } from '../model/ir.js';
import type { GraphBuilder } from './builder.js';
import type { Seeded } from './seeded.js';

const zeros = (n: number) => new Array<number>(n).fill(0);

/** Pad (negative pads crop) of a tensor with `lead` leading axes before the per-sample ones */
export function padTensor(
  g: GraphBuilder,
  v: string,
  op: PadOp,
  inS: Shape,
  lead: number,
  value: number,
): string {
  const r = inS.length;
  const begin = op.pads.slice(0, r);
  const end = op.pads.slice(r);
  let out = v;
  if (op.pads.some((p) => p < 0)) {
    const axes = inS.map((_, i) => i).filter((i) => begin[i] < 0 || end[i] < 0);
    out = g.op('Slice', [
      out,
      g.ints(axes.map((i) => Math.max(-begin[i], 0))),
      g.ints(axes.map((i) => inS[i] - Math.max(-end[i], 0))),
      g.ints(axes.map((i) => i + lead)),
    ]);
  }
  if (op.pads.some((p) => p > 0)) {
    const pos = (p: number) => Math.max(p, 0);
    const pads = [...zeros(lead), ...begin.map(pos), ...zeros(lead), ...end.map(pos)];
    const args = [out, g.ints(pads)];
    if (op.mode === 'constant') args.push(g.floats([value]));
    out = g.op('Pad', args, { mode: op.mode });
  }
  return out;
}

/** [Lout, Lin] 0/1 matrix of a reflect/edge pad along one axis */
function padMatrix(mode: 'reflect' | 'edge', lin: number, p0: number, p1: number): Float32Array {
  const lout = lin + p0 + p1;
  const m = new Float32Array(lout * lin);
  for (let o = 0; o < lout; o++) {
    let i = o - p0;
    if (mode === 'edge') i = Math.min(Math.max(i, 0), lin - 1);
    else if (i < 0) i = -i;
    else if (i >= lin) i = 2 * (lin - 1) - i;
    m[o * lin + i] = 1;
  }
  return m;
}

/** Adjoint of a pad in the seeded layout */
export function padAdjoint(s: Seeded, op: PadOp, v: string, inS: Shape): string {
  const g = s.g;
  const r = inS.length;
  const begin = op.pads.slice(0, r);
  const end = op.pads.slice(r);
  if (op.mode === 'constant') {
    // y = Pad₊(Crop₋(x)) ⇒ x̄ = ZeroPad₋(Slice₊(ȳ))
    const mid = inS.map((d, i) => d - Math.max(-begin[i], 0) - Math.max(-end[i], 0));
    const axes = inS.map((_, i) => i).filter((i) => begin[i] > 0 || end[i] > 0);
    let out = v;
    if (axes.length > 0)
      out = g.op('Slice', [
        out,
        g.ints(axes.map((i) => Math.max(begin[i], 0))),
        g.ints(axes.map((i) => Math.max(begin[i], 0) + mid[i])),
        g.ints(axes.map((i) => i + 2)),
      ]);
    if (op.pads.some((p) => p < 0)) {
      const neg = (p: number) => Math.max(-p, 0);
      out = g.op('Pad', [out, g.ints([0, 0, ...begin.map(neg), 0, 0, ...end.map(neg)])]);
    }
    return out;
  }
  // reflect / edge: along each padded axis, multiply by the pad matrix's transpose
  let out = v;
  for (let i = 0; i < r; i++) {
    if (begin[i] === 0 && end[i] === 0) continue;
    const lout = inS[i] + begin[i] + end[i];
    const m = g.initializer('padmat', [lout, inS[i]], padMatrix(op.mode, inS[i], begin[i], end[i]));
    const ax = i + 2;
    const rank = r + 2;
    // move the axis last, [..., Lout] @ [Lout, Lin], move it back
    const perm = Array.from({ length: rank }, (_, k) => k).filter((k) => k !== ax);
    perm.push(ax);
    const inv = perm.map((_, k) => perm.indexOf(k));
    const last = ax === rank - 1;
    const moved = last ? out : g.op('Transpose', [out], { perm });
    // as a 2-D MatMul: ORT's fused Transpose+MatMul rejects an empty seed axis (K = 0, the idle
    // branch of a combined session) that a batched MatMul would broadcast
    const lead = g.op('Slice', [g.op('Shape', [moved]), g.ints([0]), g.ints([-1])]);
    const prod2d = g.op('MatMul', [s.flat(moved, [lout]), m]);
    const prod = g.op('Reshape', [prod2d, g.op('Concat', [lead, g.ints([inS[i]])], { axis: 0 })], {
      allowzero: 1,
    });
    out = last ? prod : g.op('Transpose', [prod], { perm: inv });
  }
  return out;
}

export function sliceTensor(g: GraphBuilder, v: string, op: SliceOp, lead: number): string {
  return g.op('Slice', [v, g.ints(op.starts), g.ints(op.ends), g.ints(op.axes.map((a) => a + lead))]);
}

/** Adjoint of a slice in the seeded layout: zeros around the slice */
export function sliceAdjoint(s: Seeded, op: SliceOp, v: string, inS: Shape): string {
  const begin = inS.map(() => 0);
  const end = inS.map(() => 0);
  op.axes.forEach((ax, j) => {
    begin[ax] = op.starts[j];
    end[ax] = inS[ax] - op.ends[j];
  });
  return s.g.op('Pad', [v, s.g.ints([0, 0, ...begin, 0, 0, ...end])]);
}

export function transposeTensor(g: GraphBuilder, v: string, op: TransposeOp, lead: number): string {
  const perm = [...Array.from({ length: lead }, (_, i) => i), ...op.perm.map((p) => p + lead)];
  return g.op('Transpose', [v], { perm });
}

export function transposeAdjoint(s: Seeded, op: TransposeOp, v: string): string {
  const inv = op.perm.map((_, k) => op.perm.indexOf(k));
  return transposeTensor(s.g, v, { type: 'transpose', perm: inv }, 2);
}

/** number of values each output of a reduction sums */
export const reduceCount = (op: ReduceOp, inS: Shape): number => op.axes.reduce((p, a) => p * inS[a], 1);

/** ReduceSum (no mean) over the op's axes, at `lead` leading axes; keepdims as the op says */
export function reduceSumTensor(g: GraphBuilder, v: string, op: ReduceOp, lead: number): string {
  return g.op('ReduceSum', [v, g.ints(op.axes.map((a) => a + lead))], { keepdims: op.keepdims ? 1 : 0 });
}

export function reduceTensor(g: GraphBuilder, v: string, op: ReduceOp, inS: Shape, lead: number): string {
  const sum = reduceSumTensor(g, v, op, lead);
  return op.mean ? g.op('Div', [sum, g.floats([reduceCount(op, inS)])]) : sum;
}

/** Spread a [B, K, …out] value back over the reduced axes (no division) */
export function reduceSpread(s: Seeded, op: ReduceOp, v: string, inS: Shape): string {
  const kept = inS.map((d, i) => (op.axes.includes(i) ? 1 : d));
  return s.expand(op.keepdims ? v : s.unflat(v, kept), inS);
}
