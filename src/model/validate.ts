/**
 * Model validation before use: every initializer holds exactly as many values (or raw bytes)
 * as its shape says, the graph has exactly one input of rank ≥ 2, and every node's attributes
 * are known to its op (a misspelled `ceik_mode` is an error, not a silent default) with values
 * in range. Errors name the model, the node, its op and the attribute. Called by the loader
 * (load.ts) before anything is built; ONNX Runtime's own check on the original bytes follows
 * in the Node-only loader (load-file.ts).
 */
import { ModelError } from './ir.js';
import {
  type AttributeProto,
  AttrType,
  DataType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from './onnx-proto.js';

type Kind = 'int' | 'ints' | 'float' | 'string' | 'tensor' | 'any';
type Check = (v: number) => boolean;
interface AttrSpec {
  kind: Kind;
  check?: Check;
  /** the values allowed, said in words for the message */
  says?: string;
}

const POS: AttrSpec = { kind: 'ints', check: (v) => v >= 1, says: 'each ≥ 1' };
const NONNEG: AttrSpec = { kind: 'ints', check: (v) => v >= 0, says: 'each ≥ 0' };
const BOOL: AttrSpec = { kind: 'int', check: (v) => v === 0 || v === 1, says: '0 or 1' };
const FINITE: AttrSpec = { kind: 'float', check: Number.isFinite, says: 'finite' };
const INT: AttrSpec = { kind: 'int' };
const AUTO_PAD: AttrSpec = { kind: 'string' };
const WINDOW = { auto_pad: AUTO_PAD, dilations: POS, kernel_shape: POS, pads: NONNEG, strides: POS };

/** Attributes per op (ONNX operator specs, all opsets the loader supports) */
const ATTRIBUTES: Record<string, Record<string, AttrSpec>> = {
  Conv: { ...WINDOW, group: { kind: 'int', check: (v) => v >= 1, says: '≥ 1' } },
  Gemm: { alpha: FINITE, beta: FINITE, transA: BOOL, transB: BOOL },
  MatMul: {},
  Add: {},
  Sub: {},
  Mul: {},
  Div: {},
  Relu: {},
  MaxPool: { ...WINDOW, ceil_mode: BOOL, storage_order: BOOL },
  AveragePool: { ...WINDOW, ceil_mode: BOOL, count_include_pad: BOOL },
  GlobalAveragePool: {},
  Flatten: { axis: INT },
  Reshape: { allowzero: BOOL },
  BatchNormalization: {
    epsilon: { kind: 'float', check: (v) => Number.isFinite(v) && v >= 0, says: 'finite and ≥ 0' },
    momentum: FINITE,
    training_mode: BOOL,
    spatial: BOOL,
    is_test: BOOL,
    consumed_inputs: { kind: 'ints' },
  },
  Dropout: { ratio: FINITE, seed: INT, is_test: BOOL },
  Identity: {},
  Concat: { axis: INT },
  Softmax: { axis: INT },
  LogSoftmax: { axis: INT },
  Shape: { start: INT, end: INT },
  Sigmoid: {},
  Tanh: {},
  HardSigmoid: { alpha: FINITE, beta: FINITE },
  HardSwish: {},
  LeakyRelu: { alpha: FINITE },
  Elu: { alpha: FINITE },
  Selu: { alpha: FINITE, gamma: FINITE },
  Erf: {},
  Clip: { min: { kind: 'float' }, max: { kind: 'float' } },
  Pad: { mode: { kind: 'string' }, pads: { kind: 'ints' }, value: { kind: 'float' } },
  ReduceMean: { axes: { kind: 'ints' }, keepdims: BOOL, noop_with_empty_axes: BOOL },
  ReduceSum: { axes: { kind: 'ints' }, keepdims: BOOL, noop_with_empty_axes: BOOL },
  Transpose: { perm: { kind: 'ints' } },
  Split: {
    axis: INT,
    split: { kind: 'ints' },
    num_outputs: { kind: 'int', check: (v) => v >= 1, says: '≥ 1' },
  },
  Gather: { axis: INT },
  Unsqueeze: { axes: { kind: 'ints' } },
  Squeeze: { axes: { kind: 'ints' } },
  Cast: { to: INT, saturate: BOOL },
  Slice: { starts: { kind: 'ints' }, ends: { kind: 'ints' }, axes: { kind: 'ints' } },
  Constant: {
    value: { kind: 'tensor' },
    value_float: { kind: 'float' },
    value_floats: { kind: 'any' },
    value_int: INT,
    value_ints: { kind: 'ints' },
    value_string: { kind: 'any' },
    value_strings: { kind: 'any' },
    sparse_value: { kind: 'any' },
  },
};

/** Number of inputs (min, max) per op; optional inputs may be given as "" */
const INPUTS: Record<string, [number, number]> = {
  Conv: [2, 3],
  Gemm: [2, 3],
  MatMul: [2, 2],
  Add: [2, 2],
  Sub: [2, 2],
  Mul: [2, 2],
  Div: [2, 2],
  Relu: [1, 1],
  Sigmoid: [1, 1],
  Tanh: [1, 1],
  HardSigmoid: [1, 1],
  HardSwish: [1, 1],
  LeakyRelu: [1, 1],
  Elu: [1, 1],
  Selu: [1, 1],
  Erf: [1, 1],
  Clip: [1, 3],
  Pad: [1, 4],
  Transpose: [1, 1],
  MaxPool: [1, 1],
  AveragePool: [1, 1],
  GlobalAveragePool: [1, 1],
  Flatten: [1, 1],
  Reshape: [2, 2],
  BatchNormalization: [5, 5],
  Identity: [1, 1],
  Softmax: [1, 1],
  LogSoftmax: [1, 1],
};

const ATTR_KIND: Record<number, Kind> = {
  [AttrType.INT]: 'int',
  [AttrType.INTS]: 'ints',
  [AttrType.FLOAT]: 'float',
  [AttrType.STRING]: 'string',
  [AttrType.TENSOR]: 'tensor',
};

const toNum = (v: unknown): number => (typeof v === 'number' ? v : Number(v as { toString(): string }));

/** What an attribute holds, from its declared type (or, for old files without one, its fields) */
function kindOf(a: AttributeProto): Kind | undefined {
  if (a.type && ATTR_KIND[a.type]) return ATTR_KIND[a.type];
  if (a.ints && a.ints.length > 0) return 'ints';
  if (a.t) return 'tensor';
  if (a.s && a.s.length > 0) return 'string';
  if (a.f !== undefined && a.f !== null && a.f !== 0) return 'float';
  return a.i !== undefined && a.i !== null ? 'int' : undefined;
}

export function validateNode(node: NodeProto, idx: number, src: string): void {
  const op = node.opType ?? '';
  const where = `${src}: node "${node.name || `#${idx}`}" (${op})`;
  if (!node.output || node.output.length === 0 || !node.output[0])
    throw new ModelError(`${where}: has no output`);
  const known = ATTRIBUTES[op];
  if (!known) return; // the loader rejects unsupported ops by name
  const range = INPUTS[op];
  const given = (node.input ?? []).filter((n) => n !== '').length;
  if (range && (given < range[0] || (node.input ?? []).length > range[1]))
    throw new ModelError(
      `${where}: has ${given} inputs, expected ${range[0] === range[1] ? range[0] : `${range[0]} to ${range[1]}`}`,
    );
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    const spec = known[name];
    if (!spec) {
      const names = Object.keys(known);
      throw new ModelError(
        `${where}: unknown attribute "${name}" (${names.length ? `known: ${names.join(', ')}` : 'it takes none'})`,
      );
    }
    if (spec.kind === 'any') continue;
    const kind = kindOf(a);
    // ONNX Runtime refuses an attribute whose declared type and filled field disagree
    const filled = [
      toNum(a.i ?? 0) !== 0 && 'int',
      (a.f ?? 0) !== 0 && 'float',
      (a.ints?.length ?? 0) > 0 && 'ints',
      (a.s?.length ?? 0) > 0 && 'string',
      !!a.t && 'tensor',
    ].filter((x): x is Kind => !!x);
    if (a.type && filled.some((f) => f !== ATTR_KIND[a.type!]))
      throw new ModelError(
        `${where}: attribute "${name}" is declared ${ATTR_KIND[a.type] ?? a.type} but holds ${filled.join(', ')}`,
      );
    // an unset int/float proto field decodes as absent; treat "no recognisable value" as 0 of the kind
    if (kind && kind !== spec.kind && !(spec.kind === 'float' && kind === 'int'))
      throw new ModelError(`${where}: attribute "${name}" must be ${spec.kind}, got ${kind}`);
    const values =
      spec.kind === 'ints'
        ? (a.ints ?? []).map(toNum)
        : spec.kind === 'int'
          ? [toNum(a.i ?? 0)]
          : spec.kind === 'float'
            ? [a.f ?? 0]
            : [];
    if (spec.kind === 'string' && name === 'auto_pad') {
      const s = new TextDecoder().decode(a.s ?? new Uint8Array());
      if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(s))
        throw new ModelError(
          `${where}: attribute "auto_pad" is "${s}" (NOTSET, SAME_UPPER, SAME_LOWER or VALID)`,
        );
    }
    if (spec.check) {
      const bad = values.find((v) => !spec.check!(v));
      if (bad !== undefined)
        throw new ModelError(`${where}: attribute "${name}" = [${values}]: must be ${spec.says}`);
    }
    if (name === 'kernel_shape' || name === 'strides' || name === 'dilations') {
      if (values.length !== 2)
        throw new ModelError(`${where}: attribute "${name}" = [${values}]: only 2-D windows are supported`);
    }
    if (name === 'pads' && values.length !== 4)
      throw new ModelError(`${where}: attribute "pads" = [${values}]: 2-D windows need 4 values`);
  }
}

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2,
};

/** An initializer or Constant tensor holds exactly the values its dims promise */
export function validateTensor(t: TensorProto, where: string): void {
  const label = `${where}: tensor "${t.name ?? ''}"`;
  const dims = (t.dims ?? []).map(toNum);
  const bad = dims.find((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad !== undefined) throw new ModelError(`${label}: dims [${dims}] hold ${bad}`);
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = ELEMENT_BYTES[t.dataType ?? 0];
  if (!bytes) return; // the loader names unsupported data types
  if (t.dataLocation === 1) return; // external data: the loader refuses it by name
  const raw = t.rawData?.length ?? 0;
  if (raw > 0) {
    if (raw !== n * bytes)
      throw new ModelError(
        `${label}: ${raw} raw bytes, but dims [${dims}] need ${n} values × ${bytes} bytes = ${n * bytes}`,
      );
    return;
  }
  const typed =
    t.dataType === DataType.FLOAT
      ? t.floatData?.length
      : t.dataType === DataType.DOUBLE
        ? t.doubleData?.length
        : t.dataType === DataType.INT64
          ? t.int64Data?.length
          : t.int32Data?.length; // int32, and the bits of float16 / bfloat16
  if ((typed ?? 0) !== n)
    throw new ModelError(`${label}: holds ${typed ?? 0} values, but dims [${dims}] need ${n}`);
}

/** Graph-level checks: initializers, exactly one input of rank ≥ 2, an output */
export function validateGraph(graph: GraphProto, src: string): void {
  const inits = new Set<string>();
  for (const t of graph.initializer ?? []) {
    validateTensor(t, src);
    inits.add(t.name ?? '');
  }
  const inputs = (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  if (inputs.length !== 1)
    throw new ModelError(
      `${src}: the graph has ${inputs.length} inputs${inputs.length ? ` (${inputs.map((i) => `"${i.name}"`).join(', ')})` : ''}; xspectra explains models with exactly one input`,
    );
  const dims = inputs[0].type?.tensorType?.shape?.dim;
  if (dims && dims.length < 2)
    throw new ModelError(
      `${src}: input "${inputs[0].name}" has rank ${dims.length}; expected a batch dimension and features (rank ≥ 2)`,
    );
  if (!graph.output || graph.output.length === 0) throw new ModelError(`${src}: the graph has no output`);
  // topological order: every node input is a graph input, an initializer or an earlier output
  const known = new Set<string>([...inits, ...(graph.input ?? []).map((i) => i.name ?? '')]);
  for (const [idx, n] of (graph.node ?? []).entries()) {
    for (const t of n.input ?? [])
      if (t !== '' && !known.has(t))
        throw new ModelError(
          `${src}: node "${n.name || `#${idx}`}" (${n.opType}): input "${t}" is neither a graph input, an initializer nor the output of an earlier node`,
        );
    for (const t of n.output ?? []) known.add(t);
  }
}
