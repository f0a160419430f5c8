/**
 * ONNX → IR. Reads the protobuf (external data inlined: external-data.ts; float16 weights read as
 * float32), folds shape-computing subgraphs (Shape/Gather/Concat/... that torch.onnx.export emits
 * for `x.view(x.size(0), -1)`) to constants, canonizes (BatchNormalization folded into the
 * preceding Conv/Gemm, Dropout/Identity dropped, a trailing Softmax removed), imports the ops of
 * modern CNNs through import-ops.ts and rejects everything else with an error naming the node,
 * its op type and the supported ops.
 */

import { type ExternalDataReader, inlineExternalData } from './external-data.js';
import { foldConst } from './fold.js';
import {
  importBinary,
  importGather,
  importPad,
  importReduce,
  importSlice,
  importSplit,
  importSqueeze,
  importTranspose,
  importUnary,
  UNARY_OPS,
} from './import-ops.js';
import type { Layer, Model, Op, Param, PoolOp, Shape } from './ir.js';
import { ModelError, size } from './ir.js';
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrs,
  type Const,
  DataType,
  type GraphProto,
  isHalf,
  type ModelProto,
  type NodeProto,
  onnx,
  tensorValues,
} from './onnx-proto.js';
import { inferShape } from './shapes.js';
import { validateGraph, validateNode, validateTensor } from './validate.js';

export const SUPPORTED_OPS = [
  'Conv',
  'Gemm',
  'MatMul',
  'Add',
  'Sub/Mul/Div of two activations (Mul/Div broadcasting, e.g. squeeze-excitation)',
  'Relu',
  ...UNARY_OPS,
  'Pad (constant, reflect, edge)',
  'ReduceMean',
  'ReduceSum',
  'Transpose',
  'Slice',
  'Split',
  'Gather (constant indices)',
  'Unsqueeze',
  'Squeeze',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'BatchNormalization',
  'Dropout',
  'Identity',
  'Concat (any per-sample axis)',
  'Softmax (trailing: removed; inside: the gradient)',
  'LogSoftmax (trailing)',
  'Sub/Mul/Div by a per-channel constant',
  'shape arithmetic on constants (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Slice, Constant)',
];

export interface LoadOptions {
  /** per-sample input shape, needed when the model's input dims are symbolic */
  inputShape?: Shape;
  /** sha256 hex of the bytes (computed by the caller; the core has no hashing) */
  hash?: string;
  /** name for error messages */
  source?: string;
  /** reads external-data files by their location relative to the model's directory */
  externalData?: ExternalDataReader;
}

export function parseModel(bytes: Uint8Array, opts: LoadOptions = {}): Model {
  const src = opts.source ?? 'model';
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelError(`${src}: not a valid ONNX file (${(e as Error).message})`);
  }
  const graph = proto.graph;
  if (!graph?.node || graph.node.length === 0) {
    throw new ModelError(`${src}: not a valid ONNX file (no graph or no nodes)`);
  }
  inlineExternalData(graph, opts.externalData, src);
  const opset = Number(
    (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 13,
  );
  return new Loader(src, graph, opts, opset).run();
}

class Loader {
  consts = new Map<string, Const>();
  alias = new Map<string, string>();
  shapes = new Map<string, Shape>();
  params = new Map<string, Param>();
  layers: Layer[] = [];
  notes: string[] = [];
  /** Softmax / LogSoftmax output → "Op "name"" (removed when it is the graph's output) */
  softmaxOutputs = new Map<string, string>();
  inputName = '';
  paramCount = 0;

  constructor(
    readonly src: string,
    readonly graph: GraphProto,
    readonly opts: LoadOptions,
    /** the default-domain opset: Softmax's axis semantics changed at 13 */
    readonly opset = 13,
  ) {}

  resolve(name: string): string {
    let n = name;
    while (this.alias.has(n)) n = this.alias.get(n)!;
    return n;
  }

  run(): Model {
    validateGraph(this.graph, this.src);
    for (const init of this.graph.initializer ?? []) {
      this.consts.set(init.name ?? '', tensorValues(init, this.src));
    }
    const input = (this.graph.input ?? []).find((i) => !this.consts.has(i.name ?? ''));
    if (!input) throw new ModelError(`${this.src}: the graph has no (non-initializer) input`);
    this.inputName = input.name ?? 'input';
    const dims = input.type?.tensorType?.shape?.dim ?? [];
    let shape: Shape | undefined = dims.slice(1).map((d) => (d.dimValue != null ? Number(d.dimValue) : -1));
    if (shape.length === 0 || shape.some((d) => !(d > 0))) shape = undefined;
    if (this.opts.inputShape) {
      if (shape && shape.join(',') !== this.opts.inputShape.join(',')) {
        throw new ModelError(
          `${this.src}: input "${this.inputName}" has shape [N,${shape}], not [N,${this.opts.inputShape}]`,
        );
      }
      shape = this.opts.inputShape;
    }
    if (!shape) {
      throw new ModelError(
        `${this.src}: input "${this.inputName}" has symbolic spatial dims; pass the input shape`,
      );
    }
    this.shapes.set(this.inputName, shape);
    const halfInput = input.type?.tensorType?.elemType === DataType.FLOAT16;
    if (halfInput || (this.graph.initializer ?? []).some(isHalf))
      this.notes.push('float16 model: weights converted to float32, computed in float32');

    for (const [i, node] of this.graph.node!.entries()) this.visit(node, i);

    const outName = this.graph.output?.[0]?.name ?? '';
    let output = this.resolve(outName);
    const trailing = [outName, output].find((t) => this.softmaxOutputs.has(t));
    if (trailing) {
      output = this.resolve(`${output}#pre-softmax`);
      this.notes.push(`removed trailing ${this.softmaxOutputs.get(trailing)}: explaining the logits`);
    }
    for (const [sm, what] of this.softmaxOutputs) {
      if (
        sm !== trailing &&
        what.startsWith('LogSoftmax') &&
        this.layers.some((l) => l.inputs.includes(sm))
      ) {
        throw new ModelError(
          `${this.src}: a LogSoftmax inside the network (tensor "${sm}") is not supported`,
        );
      }
    }
    if (!this.shapes.has(output))
      throw new ModelError(`${this.src}: output "${outName}" is not computed by the graph`);
    const used = new Set<string>([output]);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      if (used.has(this.layers[i].output)) for (const t of this.layers[i].inputs) used.add(t);
    }
    const layers = this.layers.filter((l) => used.has(l.output));
    return {
      inputName: this.inputName,
      inputShape: shape,
      outputName: output,
      layers,
      params: this.params,
      shapes: this.shapes,
      notes: this.notes,
      hash: this.opts.hash ?? '',
    };
  }

  fail(node: NodeProto, idx: number, why: string): never {
    throw new ModelError(`${this.src}: node "${node.name || `#${idx}`}" (${node.opType}): ${why}`);
  }

  dyn(node: NodeProto, idx: number, name: string): string {
    const r = this.resolve(name);
    if (!this.shapes.has(r)) {
      if (this.consts.has(r))
        this.fail(node, idx, `input "${name}" is a constant where a tensor was expected`);
      this.fail(node, idx, `input "${name}" is not produced by an earlier node`);
    }
    return r;
  }

  cst(name: string | undefined): Const | undefined {
    if (!name) return undefined;
    return this.consts.get(this.resolve(name));
  }

  param(base: string, dims: number[], data: Float32Array): string {
    const name = `${base}#p${this.paramCount++}`;
    this.params.set(name, { dims, data });
    return name;
  }

  addLayer(
    node: NodeProto,
    idx: number,
    op: Op,
    inputs: string[],
    output: string,
    reshape?: Shape,
    name?: string,
  ): void {
    const layer: Layer = { name: name ?? (node.name || `${node.opType}_${idx}`), op, inputs, output };
    const ins = inputs.map((t) => this.shapes.get(t)!);
    let shape: Shape;
    try {
      shape = inferShape(this, layer, ins, reshape);
    } catch (e) {
      throw new ModelError(`${this.src}: ${(e as Error).message}`);
    }
    // a window larger than its input, or a reshape that does not add up, shows here first
    if (shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 1))
      this.fail(node, idx, `output shape [${shape}] from input shape [${ins[0]}]: not a valid tensor shape`);
    this.shapes.set(output, shape);
    this.layers.push(layer);
  }

  allConst(node: NodeProto): boolean {
    return (node.input ?? []).filter((n) => n).every((n) => this.consts.has(this.resolve(n)));
  }

  visit(node: NodeProto, idx: number): void {
    const op = node.opType ?? '';
    validateNode(node, idx, this.src);
    const a = attrs(node);
    const ins = node.input ?? [];
    const out = node.output?.[0] ?? '';
    if (op === 'Constant') {
      const t = a.get('value')?.t;
      if (t) validateTensor(t, this.src);
      if (t) this.consts.set(out, tensorValues(t, this.src));
      else if (a.get('value_ints')) this.consts.set(out, { dims: [], i64: attrInts(a, 'value_ints') });
      else if (a.get('value_int')) this.consts.set(out, { dims: [], i64: [attrInt(a, 'value_int', 0)] });
      else if (a.get('value_float'))
        this.consts.set(out, { dims: [], f32: Float32Array.of(attrFloat(a, 'value_float', 0)) });
      else if (a.get('value_floats')) {
        const f = Float32Array.from(a.get('value_floats')!.floats ?? []);
        this.consts.set(out, { dims: [f.length], f32: f });
      } else this.fail(node, idx, 'unsupported Constant attribute');
      return;
    }
    if (op === 'Identity' || op === 'Dropout') {
      this.alias.set(out, this.resolve(ins[0]));
      return;
    }
    if (op === 'Shape') {
      const s = this.shapes.get(this.resolve(ins[0]));
      if (!s) this.fail(node, idx, 'shape of an unknown tensor');
      const full = [1, ...s];
      const start = attrInt(a, 'start', 0);
      const end = a.has('end') ? attrInt(a, 'end', full.length) : full.length;
      const vals = full.slice(start < 0 ? full.length + start : start, end < 0 ? full.length + end : end);
      this.consts.set(out, { dims: [vals.length], i64: vals });
      return;
    }
    if (this.allConst(node)) {
      const ins = (node.input ?? []).map((n) => (n ? this.consts.get(this.resolve(n)) : undefined));
      const c = foldConst(op, ins, a, this.src, (why) => this.fail(node, idx, why));
      if (c) {
        this.consts.set(out, c);
        return;
      }
    }
    switch (op) {
      case 'Conv':
        return this.conv(node, idx, a);
      case 'Gemm':
        return this.gemm(node, idx, a);
      case 'MatMul': {
        const w = this.cst(ins[1]);
        if (!w?.f32 || w.dims.length !== 2)
          this.fail(node, idx, 'the second input must be a constant 2-D weight');
        const [nin, nout] = w.dims;
        const wt = new Float32Array(nin * nout);
        for (let i = 0; i < nin; i++) for (let o = 0; o < nout; o++) wt[o * nin + i] = w.f32[i * nout + o];
        const weight = this.param(node.name || `matmul${idx}`, [nout, nin], wt);
        return this.addLayer(node, idx, { type: 'linear', weight }, [this.dyn(node, idx, ins[0])], out);
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.arith(node, idx, op);
      case 'Sigmoid':
      case 'Tanh':
      case 'HardSigmoid':
      case 'HardSwish':
      case 'LeakyRelu':
      case 'Elu':
      case 'Selu':
      case 'Clip':
      case 'Erf':
        return importUnary(this, node, idx, a);
      case 'Pad':
        return importPad(this, node, idx, a);
      case 'ReduceMean':
      case 'ReduceSum':
        return importReduce(this, node, idx, a);
      case 'Transpose':
        return importTranspose(this, node, idx, a);
      case 'Slice':
        return importSlice(this, node, idx, a);
      case 'Split':
        return importSplit(this, node, idx, a);
      case 'Gather':
        return importGather(this, node, idx, a);
      case 'Unsqueeze':
      case 'Squeeze':
        return importSqueeze(this, node, idx, a);
      case 'Cast': {
        // on an activation: every pass computes in float32, so a cast between float types is a no-op
        const to = attrInt(a, 'to', 0);
        if (![DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16].includes(to))
          this.fail(node, idx, `cast of an activation to data type ${to}`);
        this.alias.set(out, this.dyn(node, idx, ins[0]));
        return;
      }
      case 'Relu':
        return this.addLayer(node, idx, { type: 'relu' }, [this.dyn(node, idx, ins[0])], out);
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(node, idx, a, op === 'MaxPool' ? 'maxpool' : 'avgpool');
      case 'GlobalAveragePool':
        return this.addLayer(node, idx, { type: 'globalavgpool' }, [this.dyn(node, idx, ins[0])], out);
      case 'Flatten': {
        const x = this.dyn(node, idx, ins[0]);
        if (attrInt(a, 'axis', 1) !== 1) this.fail(node, idx, 'only axis=1 is supported');
        return this.addLayer(node, idx, { type: 'reshape' }, [x], out, [size(this.shapes.get(x)!)]);
      }
      case 'Reshape': {
        const x = this.dyn(node, idx, ins[0]);
        const t = this.cst(ins[1]);
        if (!t?.i64) this.fail(node, idx, 'the target shape must be computable when loading');
        const inShape = [1, ...this.shapes.get(x)!];
        if (t.i64.some((d) => !Number.isSafeInteger(d) || d < -1) || t.i64.filter((d) => d === -1).length > 1)
          this.fail(node, idx, `reshape target [${t.i64}]: dims must be ≥ 0, with at most one -1`);
        const target = t.i64.map((d, i) => (d === 0 ? inShape[i] : d));
        const known = target.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
        const full = target.map((d) => (d === -1 ? size(inShape) / known : d));
        if (full.some((d) => !Number.isSafeInteger(d) || d < 1) || size(full) !== size(inShape))
          this.fail(
            node,
            idx,
            `reshape target [${t.i64}] does not fit the ${size(inShape)} values of [${inShape}]`,
          );
        if (full[0] !== 1)
          this.fail(node, idx, `reshape target [${t.i64}] mixes the batch dimension with features`);
        return this.addLayer(node, idx, { type: 'reshape' }, [x], out, full.slice(1));
      }
      case 'BatchNormalization':
        return this.batchnorm(node, idx, a);
      case 'Concat': {
        const axis = attrInt(a, 'axis', 1);
        const xs = ins.map((n) => this.dyn(node, idx, n));
        const rank = this.shapes.get(xs[0])!.length + 1;
        const ax = axis < 0 ? axis + rank : axis;
        if (ax < 1) this.fail(node, idx, 'concatenation along the batch axis is not supported');
        return this.addLayer(node, idx, { type: 'concat', axis: ax }, xs, out);
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const x = this.dyn(node, idx, ins[0]);
        const rank = this.shapes.get(x)!.length + 1;
        const axis = attrInt(a, 'axis', this.opset >= 13 ? -1 : 1);
        if (axis < -rank || axis >= rank)
          this.fail(node, idx, `attribute "axis" = ${axis} is outside [${-rank}, ${rank - 1}]`);
        this.alias.set(`${out}#pre-softmax`, x);
        this.softmaxOutputs.set(out, `${op} "${node.name || idx}"`);
        const ax = axis < 0 ? axis + rank : axis;
        if (op === 'LogSoftmax' || ax < 1) {
          this.shapes.set(out, this.shapes.get(x)!);
          return;
        }
        // a real layer too: unused (and dropped) when it is the output; before opset 13 Softmax
        // normalises over the flattened axes from `axis` on
        const axes = this.opset >= 13 ? [ax - 1] : Array.from({ length: rank - ax }, (_, i) => ax - 1 + i);
        return this.addLayer(node, idx, { type: 'softmax', axes }, [x], out);
      }
      default:
        throw new ModelError(
          `${this.src}: unsupported op ${op} at node "${node.name || `#${idx}`}". Supported: ${SUPPORTED_OPS.join(', ')}`,
        );
    }
  }

  pads(
    node: NodeProto,
    idx: number,
    a: ReturnType<typeof attrs>,
    inp: Shape,
    k: number[],
    s: number[],
    d: number[],
  ) {
    const autoPad = attrString(a, 'auto_pad') ?? 'NOTSET';
    const p = attrInts(a, 'pads') ?? [0, 0, 0, 0];
    if (p.length !== 4) this.fail(node, idx, 'only 2-D (NCHW) windows are supported');
    if (autoPad === 'NOTSET') return [p[0], p[1], p[2], p[3]] as [number, number, number, number];
    if (autoPad === 'VALID') return [0, 0, 0, 0] as [number, number, number, number];
    const res = [0, 0, 0, 0];
    for (let ax = 0; ax < 2; ax++) {
      const len = inp[ax + 1];
      const outLen = Math.ceil(len / s[ax]);
      const total = Math.max(0, (outLen - 1) * s[ax] + (k[ax] - 1) * d[ax] + 1 - len);
      const small = Math.floor(total / 2);
      res[ax] = autoPad === 'SAME_UPPER' ? small : total - small;
      res[ax + 2] = total - res[ax];
    }
    return res as [number, number, number, number];
  }

  conv(node: NodeProto, idx: number, a: ReturnType<typeof attrs>): void {
    const ins = node.input ?? [];
    const x = this.dyn(node, idx, ins[0]);
    const w = this.cst(ins[1]);
    if (!w?.f32 || w.dims.length !== 4)
      this.fail(node, idx, 'the weight must be a constant 4-D tensor (2-D conv)');
    const b = this.cst(ins[2]);
    const kernel = (attrInts(a, 'kernel_shape') ?? w.dims.slice(2)) as [number, number];
    if (kernel.join(',') !== w.dims.slice(2).join(','))
      this.fail(node, idx, `attribute "kernel_shape" = [${kernel}] but the weight has shape [${w.dims}]`);
    const group = attrInt(a, 'group', 1);
    if (w.dims[0] % group !== 0)
      this.fail(node, idx, `attribute "group" = ${group} does not divide the ${w.dims[0]} output channels`);
    if (b?.f32 && b.f32.length !== w.dims[0])
      this.fail(node, idx, `bias of ${b.f32.length} values for ${w.dims[0]} output channels`);
    const strides = (attrInts(a, 'strides') ?? [1, 1]) as [number, number];
    const dilations = (attrInts(a, 'dilations') ?? [1, 1]) as [number, number];
    const pads = this.pads(node, idx, a, this.shapes.get(x)!, kernel, strides, dilations);
    const base = node.name || `conv${idx}`;
    const weight = this.param(base, w.dims, Float32Array.from(w.f32));
    const bias = b?.f32 ? this.param(base, [w.dims[0]], Float32Array.from(b.f32)) : undefined;
    const op: Op = {
      type: 'conv',
      weight,
      bias,
      kernel,
      strides,
      pads,
      dilations,
      group,
    };
    this.addLayer(node, idx, op, [x], node.output![0]);
  }

  gemm(node: NodeProto, idx: number, a: ReturnType<typeof attrs>): void {
    const ins = node.input ?? [];
    const x = this.dyn(node, idx, ins[0]);
    const w = this.cst(ins[1]);
    if (!w?.f32 || w.dims.length !== 2) this.fail(node, idx, 'B must be a constant 2-D weight');
    if (attrInt(a, 'transA', 0) !== 0) this.fail(node, idx, 'transA=1 is not supported');
    const alpha = attrFloat(a, 'alpha', 1);
    const beta = attrFloat(a, 'beta', 1);
    const transB = attrInt(a, 'transB', 0) === 1;
    const [r, c] = w.dims;
    const [nout, nin] = transB ? [r, c] : [c, r];
    const wt = new Float32Array(nout * nin);
    for (let o = 0; o < nout; o++)
      for (let i = 0; i < nin; i++)
        wt[o * nin + i] = alpha * (transB ? w.f32[o * nin + i] : w.f32[i * nout + o]);
    const base = node.name || `gemm${idx}`;
    const weight = this.param(base, [nout, nin], wt);
    const b = this.cst(ins[2]);
    let bias: string | undefined;
    if (b?.f32) {
      const bb = new Float32Array(nout);
      for (let o = 0; o < nout; o++) bb[o] = beta * b.f32[b.f32.length === 1 ? 0 : o];
      bias = this.param(base, [nout], bb);
    }
    this.addLayer(node, idx, { type: 'linear', weight, bias }, [x], node.output![0]);
  }

  pool(node: NodeProto, idx: number, a: ReturnType<typeof attrs>, type: 'maxpool' | 'avgpool'): void {
    const x = this.dyn(node, idx, (node.input ?? [])[0]);
    const kernel = attrInts(a, 'kernel_shape') as [number, number];
    if (kernel?.length !== 2) this.fail(node, idx, 'only 2-D pooling is supported');
    if ((node.output ?? []).length > 1 && node.output![1])
      this.fail(node, idx, 'the Indices output is not supported');
    const strides = (attrInts(a, 'strides') ?? [1, 1]) as [number, number];
    const dilations = (attrInts(a, 'dilations') ?? [1, 1]) as [number, number];
    const op: PoolOp = {
      type,
      kernel,
      strides,
      dilations,
      pads: this.pads(node, idx, a, this.shapes.get(x)!, kernel, strides, dilations),
      ceil: attrInt(a, 'ceil_mode', 0) === 1,
      countIncludePad: attrInt(a, 'count_include_pad', 0) === 1,
    };
    if (type === 'avgpool' && (dilations[0] !== 1 || dilations[1] !== 1))
      this.fail(node, idx, 'dilated AveragePool');
    this.addLayer(node, idx, op, [x], node.output![0]);
  }

  /** Per-channel constant as [C] values, or undefined if it does not broadcast per channel. */
  perChannel(c: Const, shape: Shape): Float32Array | undefined {
    const vals = c.f32 ?? Float32Array.from(c.i64 ?? []);
    const ch = shape[0];
    const dims = c.dims.slice(c.dims.length === 4 ? 1 : 0);
    if (vals.length === 1) return new Float32Array(ch).fill(vals[0]);
    if (vals.length !== ch) return undefined;
    if (shape.length === 1 ? dims.length <= 1 : dims.length === 3 && dims[1] === 1 && dims[2] === 1)
      return vals;
    return undefined;
  }

  arith(node: NodeProto, idx: number, op: 'Add' | 'Sub' | 'Mul' | 'Div'): void {
    const ins = node.input ?? [];
    const out = node.output![0];
    const c0 = this.cst(ins[0]);
    const c1 = this.cst(ins[1]);
    if (!c0 && !c1) {
      if (op !== 'Add') return importBinary(this, node, idx, op);
      return this.addLayer(
        node,
        idx,
        { type: 'add' },
        ins.map((n) => this.dyn(node, idx, n)),
        out,
      );
    }
    const x = this.dyn(node, idx, c0 ? ins[1] : ins[0]);
    const c = (c0 ?? c1)!;
    const shape = this.shapes.get(x)!;
    const v = this.perChannel(c, shape);
    if (!v)
      this.fail(node, idx, `constant of shape [${c.dims}] does not broadcast per channel over [${shape}]`);
    if (c0 && op === 'Div') this.fail(node, idx, 'constant over tensor');
    // An Add right after a bias-free MatMul/Conv is that layer's bias.
    const prod = this.layers.find((l) => l.output === x);
    const single = !this.layers.some((l) => l !== prod && l.inputs.includes(x));
    if (
      op === 'Add' &&
      prod &&
      (prod.op.type === 'linear' || prod.op.type === 'conv') &&
      !prod.op.bias &&
      single
    ) {
      prod.op.bias = this.param(prod.name, [v.length], v);
      this.alias.set(out, x);
      return;
    }
    const ch = shape[0];
    const scale = new Float32Array(ch).fill(1);
    const shift = new Float32Array(ch);
    for (let i = 0; i < ch; i++) {
      if (op === 'Add') shift[i] = v[i];
      else if (op === 'Sub' && c0) {
        // constant − tensor
        scale[i] = -1;
        shift[i] = v[i];
      } else if (op === 'Sub') shift[i] = -v[i];
      else if (op === 'Mul') scale[i] = v[i];
      else scale[i] = 1 / v[i];
    }
    const base = node.name || `affine${idx}`;
    const affine: Op = {
      type: 'affine',
      scale: this.param(base, [ch], scale),
      shift: this.param(base, [ch], shift),
    };
    this.addLayer(node, idx, affine, [x], out);
  }

  batchnorm(node: NodeProto, idx: number, a: ReturnType<typeof attrs>): void {
    const ins = node.input ?? [];
    const x = this.dyn(node, idx, ins[0]);
    const [g, b, m, v] = [1, 2, 3, 4].map((i) => this.cst(ins[i])?.f32);
    if (!g || !b || !m || !v) this.fail(node, idx, 'scale, bias, mean and variance must be constants');
    if (attrInt(a, 'training_mode', 0) !== 0) this.fail(node, idx, 'training_mode=1 is not supported');
    const eps = attrFloat(a, 'epsilon', 1e-5);
    const ch = g.length;
    const scale = new Float32Array(ch);
    const shift = new Float32Array(ch);
    for (let i = 0; i < ch; i++) {
      scale[i] = g[i] / Math.sqrt(v[i] + eps);
      shift[i] = b[i] - m[i] * scale[i];
    }
    const prod = this.layers.find((l) => l.output === x);
    const single = !this.layers.some((l) => l !== prod && l.inputs.includes(x));
    if (prod && (prod.op.type === 'conv' || prod.op.type === 'linear') && single) {
      // Fold (Zennit's SequentialMergeBatchNorm): W' = W*s per output channel, b' = b*s + shift.
      const w = this.params.get(prod.op.weight)!;
      const per = w.data.length / w.dims[0];
      const nw = Float32Array.from(w.data);
      for (let o = 0; o < w.dims[0]; o++) for (let j = 0; j < per; j++) nw[o * per + j] *= scale[o];
      const old = prod.op.bias ? this.params.get(prod.op.bias)!.data : new Float32Array(ch);
      const nb = new Float32Array(ch);
      for (let o = 0; o < ch; o++) nb[o] = old[o] * scale[o] + shift[o];
      prod.op.weight = this.param(prod.name, w.dims, nw);
      prod.op.bias = this.param(prod.name, [ch], nb);
      this.alias.set(node.output![0], x);
      this.notes.push(`folded BatchNormalization "${node.name || idx}" into "${prod.name}"`);
      return;
    }
    const base = node.name || `bn${idx}`;
    const affine: Op = {
      type: 'affine',
      scale: this.param(base, [ch], scale),
      shift: this.param(base, [ch], shift),
    };
    this.notes.push(
      `BatchNormalization "${node.name || idx}" kept as a per-channel affine layer (nothing to fold into)`,
    );
    this.addLayer(node, idx, affine, [x], node.output![0]);
  }
}
