/**
 * ONNX → IR for the ops of modern CNNs (issue 16): element-wise activations, products and
 * quotients of activations, Pad, ReduceMean/ReduceSum, Transpose, Slice, Split, Gather with
 * constant indices, Unsqueeze/Squeeze on activations. Each ONNX node becomes one or a few IR layers
 * (Split → one slice per output; Gather → slices, a concat and a reshape), so the compiler sees a
 * handful of linear maps and element-wise ops. Attributes come from the node (old opsets) or from
 * constant inputs (newer opsets); anything that is not constant or would touch the batch axis is
 * refused with the node's name.
 */
import type { Op, Shape, UnaryFn } from './ir.js';
import { size } from './ir.js';
import {
  type AttributeProto,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  type Const,
  type NodeProto,
} from './onnx-proto.js';

type Attrs = Map<string, AttributeProto>;

/** What the importers need from the loader (load.ts) */
export interface ImportContext {
  shapes: Map<string, Shape>;
  notes: string[];
  alias: Map<string, string>;
  resolve(name: string): string;
  dyn(node: NodeProto, idx: number, name: string): string;
  cst(name: string | undefined): Const | undefined;
  fail(node: NodeProto, idx: number, why: string): never;
  addLayer(
    node: NodeProto,
    idx: number,
    op: Op,
    inputs: string[],
    output: string,
    reshape?: Shape,
    name?: string,
  ): void;
}

const UNARY: Record<string, UnaryFn> = {
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  HardSigmoid: 'hardsigmoid',
  HardSwish: 'hardswish',
  LeakyRelu: 'leakyrelu',
  Elu: 'elu',
  Selu: 'selu',
  Clip: 'clip',
  // GELU as exported before opset 20: x · ½(1 + erf(x/√2))
  Erf: 'erf',
};
export const UNARY_OPS = Object.keys(UNARY);

const vals = (c: Const | undefined): number[] => (c ? (c.i64 ?? Array.from(c.f32 ?? [])) : []);

/** A constant input (newer opsets) or an attribute (older opsets); undefined when neither is given */
function intsOf(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs, attr: string, input: number) {
  const name = (node.input ?? [])[input];
  if (name) {
    const c = ctx.cst(name);
    if (!c) ctx.fail(node, idx, `input ${input + 1} ("${name}", ${attr}) must be a constant`);
    return vals(c);
  }
  return attrInts(a, attr);
}

/** Normalise axes of the full (batch-first) rank to per-sample axes; the batch axis is refused */
function sampleAxes(
  ctx: ImportContext,
  node: NodeProto,
  idx: number,
  axes: number[],
  rank: number,
): number[] {
  return axes.map((ax) => {
    const a = ax < 0 ? ax + rank : ax;
    if (a < 0 || a >= rank) ctx.fail(node, idx, `axis ${ax} is outside [${-rank}, ${rank - 1}]`);
    if (a === 0) ctx.fail(node, idx, 'an operation along the batch axis is not supported');
    return a - 1;
  });
}

export function importUnary(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const ins = node.input ?? [];
  const out = node.output![0];
  const x = ctx.dyn(node, idx, ins[0]);
  const fn = UNARY[node.opType ?? ''];
  const op: Op = { type: 'unary', fn };
  if (fn === 'hardsigmoid')
    Object.assign(op, { alpha: attrFloat(a, 'alpha', 0.2), beta: attrFloat(a, 'beta', 0.5) });
  if (fn === 'leakyrelu') op.alpha = attrFloat(a, 'alpha', 0.01);
  if (fn === 'elu') op.alpha = attrFloat(a, 'alpha', 1);
  if (fn === 'selu')
    Object.assign(op, {
      alpha: attrFloat(a, 'alpha', 1.6732632423543772),
      gamma: attrFloat(a, 'gamma', 1.0507010221481323),
    });
  if (fn === 'clip') {
    const bound = (i: number, attr: string, dflt: number) => {
      const name = ins[i];
      if (name) {
        const c = ctx.cst(name);
        if (!c || vals(c).length !== 1) ctx.fail(node, idx, `the ${attr} bound must be a constant scalar`);
        return vals(c)[0];
      }
      return a.has(attr) ? attrFloat(a, attr, dflt) : dflt;
    };
    op.min = bound(1, 'min', Number.NEGATIVE_INFINITY);
    op.max = bound(2, 'max', Number.POSITIVE_INFINITY);
    if (!(op.min <= op.max)) ctx.fail(node, idx, `min ${op.min} > max ${op.max}`);
    // Clip(0, ∞) is a ReLU: keep the ReLU layer (and its LRP/non-negativity treatment)
    if (op.min === 0 && op.max === Number.POSITIVE_INFINITY)
      return ctx.addLayer(node, idx, { type: 'relu' }, [x], out);
  }
  ctx.addLayer(node, idx, op, [x], out);
}

/** Mul / Div / Sub of two activations */
export function importBinary(
  ctx: ImportContext,
  node: NodeProto,
  idx: number,
  op: 'Mul' | 'Div' | 'Sub',
): void {
  const ins = (node.input ?? []).map((n) => ctx.dyn(node, idx, n));
  const [sa, sb] = ins.map((t) => ctx.shapes.get(t)!);
  if (sa.length !== sb.length)
    ctx.fail(
      node,
      idx,
      `operands of rank ${sa.length + 1} and ${sb.length + 1}: only equal ranks are supported`,
    );
  const type = op === 'Mul' ? 'mul' : op === 'Div' ? 'div' : 'sub';
  ctx.addLayer(node, idx, { type }, ins, node.output![0]);
}

export function importPad(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const ins = node.input ?? [];
  const x = ctx.dyn(node, idx, ins[0]);
  const shape = ctx.shapes.get(x)!;
  const rank = shape.length + 1;
  const mode = attrString(a, 'mode') ?? 'constant';
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge')
    ctx.fail(node, idx, `mode "${mode}" is not supported (constant, reflect, edge)`);
  const given = intsOf(ctx, node, idx, a, 'pads', 1);
  if (!given) ctx.fail(node, idx, 'no pads given');
  let axes = Array.from({ length: rank }, (_, i) => i);
  if (ins[3]) {
    const c = ctx.cst(ins[3]);
    if (!c) ctx.fail(node, idx, 'the axes input must be a constant');
    axes = vals(c).map((v) => (v < 0 ? v + rank : v));
  }
  if (given.length !== 2 * axes.length)
    ctx.fail(node, idx, `${given.length} pads for ${axes.length} axes (need begin and end per axis)`);
  const full = new Array(2 * rank).fill(0);
  axes.forEach((ax, i) => {
    full[ax] = given[i];
    full[ax + rank] = given[i + axes.length];
  });
  if (full[0] !== 0 || full[rank] !== 0) ctx.fail(node, idx, 'padding the batch axis is not supported');
  const pads = [...full.slice(1, rank), ...full.slice(rank + 1)];
  let value = 0;
  if (ins[2]) {
    const c = ctx.cst(ins[2]);
    if (!c || vals(c).length !== 1) ctx.fail(node, idx, 'constant_value must be a constant scalar');
    value = vals(c)[0];
  } else if (a.has('value')) value = attrFloat(a, 'value', 0);
  if (mode !== 'constant') {
    shape.forEach((d, i) => {
      const [p0, p1] = [pads[i], pads[i + shape.length]];
      if (p0 < 0 || p1 < 0) ctx.fail(node, idx, `negative pads [${given}] in ${mode} mode`);
      if (mode === 'reflect' && (p0 >= d || p1 >= d) && (p0 > 0 || p1 > 0))
        ctx.fail(node, idx, `reflect pads [${given}] must be smaller than the axis (${d})`);
    });
  }
  if (pads.every((p) => p === 0)) {
    // torch exports AvgPool2d(2) at opset 11 as Pad(0) + AveragePool: nothing to do
    ctx.alias.set(node.output![0], x);
    return;
  }
  ctx.addLayer(node, idx, { type: 'pad', mode, pads, value }, [x], node.output![0]);
}

export function importReduce(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const x = ctx.dyn(node, idx, (node.input ?? [])[0]);
  const shape = ctx.shapes.get(x)!;
  const given = intsOf(ctx, node, idx, a, 'axes', 1);
  if (!given || given.length === 0) {
    if (attrInt(a, 'noop_with_empty_axes', 0) === 1) {
      ctx.alias.set(node.output![0], x);
      return;
    }
    ctx.fail(node, idx, 'reducing over all axes (the batch axis too) is not supported');
  }
  const axes = [...new Set(sampleAxes(ctx, node, idx, given, shape.length + 1))].sort((p, q) => p - q);
  const op: Op = {
    type: 'reduce',
    mean: node.opType === 'ReduceMean',
    axes,
    keepdims: attrInt(a, 'keepdims', 1) === 1,
  };
  ctx.addLayer(node, idx, op, [x], node.output![0]);
}

export function importTranspose(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const x = ctx.dyn(node, idx, (node.input ?? [])[0]);
  const rank = ctx.shapes.get(x)!.length + 1;
  const perm = attrInts(a, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i))
    ctx.fail(node, idx, `perm [${perm}] is not a permutation of ${rank} axes`);
  if (perm[0] !== 0) ctx.fail(node, idx, `perm [${perm}] moves the batch axis`);
  ctx.addLayer(node, idx, { type: 'transpose', perm: perm.slice(1).map((p) => p - 1) }, [x], node.output![0]);
}

function sliceLayer(
  ctx: ImportContext,
  node: NodeProto,
  idx: number,
  x: string,
  axes: number[],
  starts: number[],
  ends: number[],
  out: string,
  name?: string,
): void {
  const shape = ctx.shapes.get(x)!;
  const s: number[] = [];
  const e: number[] = [];
  axes.forEach((ax, j) => {
    const d = shape[ax];
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    s.push(norm(starts[j]));
    e.push(norm(ends[j]));
    if (e[j] <= s[j])
      ctx.fail(node, idx, `empty slice [${starts[j]}, ${ends[j]}) of axis ${ax + 1} (size ${d})`);
  });
  ctx.addLayer(node, idx, { type: 'slice', axes, starts: s, ends: e }, [x], out, undefined, name);
}

export function importSlice(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const x = ctx.dyn(node, idx, (node.input ?? [])[0]);
  const rank = ctx.shapes.get(x)!.length + 1;
  const starts = intsOf(ctx, node, idx, a, 'starts', 1);
  const ends = intsOf(ctx, node, idx, a, 'ends', 2);
  if (!starts || !ends || starts.length !== ends.length)
    ctx.fail(node, idx, 'starts and ends must be constants of one length');
  const rawAxes = intsOf(ctx, node, idx, a, 'axes', 3) ?? starts.map((_, i) => i);
  const steps = intsOf(ctx, node, idx, a, 'steps', 4) ?? starts.map(() => 1);
  if (steps.some((st) => st !== 1)) ctx.fail(node, idx, `steps [${steps}]: only step 1 is supported`);
  const keep: number[] = [];
  rawAxes.forEach((ax, j) => {
    const full = ax < 0 ? ax + rank : ax;
    // a slice of the whole batch axis ([0, ≥ 2^31)) is a no-op
    if (full === 0 && starts[j] === 0 && ends[j] >= 2 ** 31 - 1) return;
    keep.push(j);
  });
  const axes = sampleAxes(
    ctx,
    node,
    idx,
    keep.map((j) => rawAxes[j]),
    rank,
  );
  sliceLayer(
    ctx,
    node,
    idx,
    x,
    axes,
    keep.map((j) => starts[j]),
    keep.map((j) => ends[j]),
    node.output![0],
  );
}

export function importSplit(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const x = ctx.dyn(node, idx, (node.input ?? [])[0]);
  const shape = ctx.shapes.get(x)!;
  const [axis] = sampleAxes(ctx, node, idx, [attrInt(a, 'axis', 0)], shape.length + 1);
  const outs = node.output ?? [];
  const d = shape[axis];
  let sizes = intsOf(ctx, node, idx, a, 'split', 1);
  if (!sizes) {
    const n = attrInt(a, 'num_outputs', outs.length);
    const part = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.min(part, d - i * part));
  }
  if (sizes.length !== outs.length || sizes.reduce((p, q) => p + q, 0) !== d || sizes.some((v) => v < 1))
    ctx.fail(
      node,
      idx,
      `split [${sizes}] does not divide axis ${axis + 1} of size ${d} into ${outs.length} parts`,
    );
  let start = 0;
  outs.forEach((out, i) => {
    const base = node.name || `Split_${idx}`;
    sliceLayer(ctx, node, idx, x, [axis], [start], [start + sizes[i]], out, `${base}:${i}`);
    start += sizes[i];
  });
}

/** Gather with constant indices on an activation: slices (+ concat), a reshape for a scalar index */
export function importGather(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const ins = node.input ?? [];
  const x = ctx.dyn(node, idx, ins[0]);
  const shape = ctx.shapes.get(x)!;
  const [axis] = sampleAxes(ctx, node, idx, [attrInt(a, 'axis', 0)], shape.length + 1);
  const c = ctx.cst(ins[1]);
  if (!c) ctx.fail(node, idx, 'the indices must be constant');
  if (c.dims.length > 1) ctx.fail(node, idx, `indices of rank ${c.dims.length}: only scalars and vectors`);
  const d = shape[axis];
  const index = vals(c).map((i) => (i < 0 ? i + d : i));
  if (index.some((i) => !Number.isInteger(i) || i < 0 || i >= d))
    ctx.fail(node, idx, `indices [${vals(c)}] outside axis ${axis + 1} of size ${d}`);
  const out = node.output![0];
  const base = node.name || `Gather_${idx}`;
  const scalar = c.dims.length === 0;
  const parts = index.map((i, j) => {
    const name = `${base}:slice${j}`;
    const t = index.length === 1 && !scalar ? out : `${out}#slice${j}`;
    sliceLayer(ctx, node, idx, x, [axis], [i], [i + 1], t, name);
    return t;
  });
  if (scalar) {
    const target = shape.filter((_, i) => i !== axis);
    return ctx.addLayer(node, idx, { type: 'reshape' }, [parts[0]], out, target, `${base}:squeeze`);
  }
  if (parts.length > 1)
    ctx.addLayer(node, idx, { type: 'concat', axis: axis + 1 }, parts, out, undefined, `${base}:concat`);
}

/** Unsqueeze / Squeeze of an activation: a reshape */
export function importSqueeze(ctx: ImportContext, node: NodeProto, idx: number, a: Attrs): void {
  const x = ctx.dyn(node, idx, (node.input ?? [])[0]);
  const shape = ctx.shapes.get(x)!;
  const given = intsOf(ctx, node, idx, a, 'axes', 1);
  let target: Shape;
  if (node.opType === 'Unsqueeze') {
    if (!given) ctx.fail(node, idx, 'no axes given');
    const rank = shape.length + 1 + given.length;
    const axes = new Set(sampleAxes(ctx, node, idx, given, rank));
    target = [];
    let k = 0;
    for (let i = 0; i < rank - 1; i++) target.push(axes.has(i) ? 1 : shape[k++]);
  } else {
    const axes = given ? new Set(sampleAxes(ctx, node, idx, given, shape.length + 1)) : undefined;
    for (const ax of axes ?? [])
      if (shape[ax] !== 1) ctx.fail(node, idx, `axis ${ax + 1} has size ${shape[ax]}, not 1`);
    target = shape.filter((d, i) => (axes ? !axes.has(i) : d !== 1));
    if (target.length === 0) target = [1];
  }
  if (size(target) !== size(shape)) ctx.fail(node, idx, `cannot reshape [${shape}] to [${target}]`);
  ctx.addLayer(node, idx, { type: 'reshape' }, [x], node.output![0], target);
}
