/**
 * Constant folding: the shape arithmetic torch.onnx.export emits (Shape → Gather → Unsqueeze →
 * Concat → Reshape for `x.view(x.size(0), -1)`; integer Add/Sub/Mul/Div), and tensor-shaped
 * constants: ConstantOfShape, Reshape, Transpose and Slice (any rank, negative steps). F.pad at
 * opset 11 builds its pads that way (ConstantOfShape → Concat → Reshape [-1, 2] → Slice step −1 →
 * Transpose → Reshape), so the loader must evaluate them to read a Pad's pads. Integer constants
 * stay integers, floats float32.
 */
import { type AttributeProto, attrInt, attrInts, type Const, tensorValues } from './onnx-proto.js';

const valuesOf = (c: Const): number[] => c.i64 ?? Array.from(c.f32 ?? []);
const dimsOf = (c: Const): number[] => (c.dims.length > 0 ? c.dims : [valuesOf(c).length]);

function make(like: Const, dims: number[], vals: number[]): Const {
  return like.f32 ? { dims, f32: Float32Array.from(vals) } : { dims, i64: vals };
}

const strides = (dims: number[]) => dims.map((_, i) => dims.slice(i + 1).reduce((p, q) => p * q, 1));

/** out[j] = in[Σ_k idx_k(j_k)·stride_k]: a gather along every axis */
function gatherAxes(c: Const, index: number[][]): Const {
  const vals = valuesOf(c);
  const st = strides(dimsOf(c));
  const outDims = index.map((ix) => ix.length);
  const n = outDims.reduce((p, q) => p * q, 1);
  const out: number[] = [];
  const pos = outDims.map(() => 0);
  for (let j = 0; j < n; j++) {
    out.push(vals[pos.reduce((s, p, k) => s + index[k][p] * st[k], 0)]);
    for (let k = pos.length - 1; k >= 0; k--) {
      if (++pos[k] < outDims[k]) break;
      pos[k] = 0;
    }
  }
  return make(c, outDims, out);
}

export function foldTensorOp(
  op: string,
  ins: (Const | undefined)[],
  a: Map<string, AttributeProto>,
  where: string,
): Const | undefined {
  switch (op) {
    case 'ConstantOfShape': {
      const dims = valuesOf(ins[0]!);
      const t = a.get('value')?.t;
      const v = t ? valuesOf(tensorValues(t, where))[0] : 0;
      const n = dims.reduce((p, q) => p * q, 1);
      const vals = new Array<number>(n).fill(v);
      return t && !tensorValues(t, where).f32 ? { dims, i64: vals } : { dims, f32: Float32Array.from(vals) };
    }
    case 'Reshape': {
      const c = ins[0]!;
      const inDims = dimsOf(c);
      const n = valuesOf(c).length;
      const target = valuesOf(ins[1]!).map((d, i) => (d === 0 ? inDims[i] : d));
      const known = target.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
      return make(
        c,
        target.map((d) => (d === -1 ? n / known : d)),
        valuesOf(c),
      );
    }
    case 'Transpose': {
      const c = ins[0]!;
      const dims = dimsOf(c);
      const perm = attrInts(a, 'perm') ?? dims.map((_, i) => dims.length - 1 - i);
      // out[j] = in[j permuted back]: gather on the input's axes in the output's order
      const st = strides(dims);
      const vals = valuesOf(c);
      const outDims = perm.map((p) => dims[p]);
      const n = vals.length;
      const out: number[] = [];
      const pos = outDims.map(() => 0);
      for (let j = 0; j < n; j++) {
        out.push(vals[pos.reduce((s, p, k) => s + p * st[perm[k]], 0)]);
        for (let k = pos.length - 1; k >= 0; k--) {
          if (++pos[k] < outDims[k]) break;
          pos[k] = 0;
        }
      }
      return make(c, outDims, out);
    }
    case 'Slice': {
      const c = ins[0]!;
      const dims = dimsOf(c);
      const list = (i: number, attr: string) => (ins[i] ? valuesOf(ins[i]!) : attrInts(a, attr));
      const starts = list(1, 'starts') ?? [];
      const ends = list(2, 'ends') ?? [];
      const axes = list(3, 'axes') ?? starts.map((_, i) => i);
      const steps = (ins[4] ? valuesOf(ins[4]) : undefined) ?? starts.map(() => 1);
      const index = dims.map((d) => Array.from({ length: d }, (_, i) => i));
      axes.forEach((ax0, j) => {
        const ax = ax0 < 0 ? ax0 + dims.length : ax0;
        const d = dims[ax];
        const step = steps[j];
        const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
        const ix: number[] = [];
        if (step > 0) for (let i = norm(starts[j], 0, d); i < norm(ends[j], 0, d); i += step) ix.push(i);
        else for (let i = norm(starts[j], -1, d - 1); i > norm(ends[j], -1, d - 1); i += step) ix.push(i);
        index[ax] = ix;
      });
      return gatherAxes(c, index);
    }
    default:
      return undefined;
  }
}

/** Fold a node whose inputs are all constants; undefined when the op is not foldable */
export function foldConst(
  op: string,
  ins: (Const | undefined)[],
  a: Map<string, AttributeProto>,
  where: string,
  fail: (why: string) => never,
): Const | undefined {
  const ints = (c: Const | undefined) => c?.i64 ?? (c?.f32 ? Array.from(c.f32) : []);
  const make = (vals: number[], dims: number[] = [vals.length]): Const => ({ dims, i64: vals });
  switch (op) {
    case 'Gather': {
      const data = ints(ins[0]);
      const index = ints(ins[1]).map((i) => (i < 0 ? data.length + i : i));
      if (attrInt(a, 'axis', 0) !== 0 || (ins[0]?.dims.length ?? 0) > 1) fail('unsupported Gather');
      return make(
        index.map((i) => data[i]),
        ins[1]!.dims,
      );
    }
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Cast':
      return make(ints(ins[0]));
    case 'Concat': {
      const rank = Math.max(1, ins[0]?.dims.length ?? 1);
      const axis = attrInt(a, 'axis', 0);
      if (axis < -rank || axis >= rank) fail(`attribute "axis" = ${axis} is outside [${-rank}, ${rank - 1}]`);
      return make(ins.flatMap(ints));
    }
    case 'ConstantOfShape':
    case 'Reshape':
    case 'Transpose':
    case 'Slice':
      return foldTensorOp(op, ins, a, where);
    case 'Mul':
    case 'Div':
    case 'Add':
    case 'Sub': {
      if (ins.some((c) => !c?.i64)) return undefined;
      const x = ints(ins[0]);
      const y = ints(ins[1]);
      const n = Math.max(x.length, y.length);
      const f =
        { Mul: (p: number, q: number) => p * q, Div: (p: number, q: number) => Math.trunc(p / q) }[
          op as 'Mul' | 'Div'
        ] ?? (op === 'Add' ? (p: number, q: number) => p + q : (p: number, q: number) => p - q);
      return make(
        Array.from({ length: n }, (_, i) => f(x[x.length === 1 ? 0 : i], y[y.length === 1 ? 0 : i])),
      );
    }
    default:
      return undefined;
  }
}
