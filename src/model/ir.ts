/**
 * The intermediate representation every pass works on: a DAG of layers over named tensors,
 * each tensor with a static per-sample shape (the batch dimension is implicit and free).
 * Parameters are float32 arrays owned by the model, referenced by name from the layers.
 */
export type Shape = number[];

export interface Param {
  dims: number[];
  data: Float32Array;
}

export interface ConvOp {
  type: 'conv';
  weight: string; // [Cout, Cin/group, kh, kw]
  bias?: string; // [Cout]
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number]; // top, left, bottom, right
  dilations: [number, number];
  group: number;
}
export interface LinearOp {
  type: 'linear';
  weight: string; // [out, in]
  bias?: string; // [out]
}
export interface PoolOp {
  type: 'maxpool' | 'avgpool';
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  ceil: boolean;
  countIncludePad: boolean;
}
/** Per-channel affine map y = x*scale + shift: a BatchNormalization that could not be folded. */
export interface AffineOp {
  type: 'affine';
  scale: string;
  shift: string;
}
/** Element-wise activations; LRP passes relevance through them unchanged (Zennit's Pass). */
export type UnaryFn =
  | 'sigmoid'
  | 'tanh'
  | 'hardsigmoid'
  | 'hardswish'
  | 'leakyrelu'
  | 'elu'
  | 'selu'
  | 'clip'
  | 'erf';
export interface UnaryOp {
  type: 'unary';
  fn: UnaryFn;
  /** HardSigmoid α, β; LeakyRelu / Elu / Selu α; Selu γ; Clip bounds (±Infinity when absent) */
  alpha?: number;
  beta?: number;
  gamma?: number;
  min?: number;
  max?: number;
}
/** Pad of the per-sample axes: pads = [begin per axis…, end per axis…] (negative crops; constant mode only) */
export interface PadOp {
  type: 'pad';
  mode: 'constant' | 'reflect' | 'edge';
  pads: number[];
  value: number;
}
/** ReduceMean / ReduceSum over per-sample axes (0-based, sorted) */
export interface ReduceOp {
  type: 'reduce';
  mean: boolean;
  axes: number[];
  keepdims: boolean;
}
/** Transpose of the per-sample axes (the batch axis stays first) */
export interface TransposeOp {
  type: 'transpose';
  perm: number[];
}
/** Step-1 slice of per-sample axes, starts/ends normalised to 0 ≤ start < end ≤ dim */
export interface SliceOp {
  type: 'slice';
  axes: number[];
  starts: number[];
  ends: number[];
}
export type Op =
  | ConvOp
  | LinearOp
  | PoolOp
  | AffineOp
  | { type: 'relu' }
  | { type: 'globalavgpool' }
  | { type: 'reshape' }
  | { type: 'add' }
  | { type: 'concat'; axis: number }
  | UnaryOp
  | PadOp
  | ReduceOp
  | TransposeOp
  | SliceOp
  /** element-wise product of two tensors (numpy broadcasting over per-sample axes of equal rank) */
  | { type: 'mul' }
  /** element-wise quotient inputs[0] / inputs[1] (broadcasting as for mul) */
  | { type: 'div' }
  /** inputs[0] − inputs[1], equal shapes */
  | { type: 'sub' }
  /** softmax over per-sample axes (one axis from opset 13; the flattened trailing axes before) */
  | { type: 'softmax'; axes: number[] };

export interface Layer {
  /** ONNX node name (or a generated one), used in errors and composite selectors. */
  name: string;
  op: Op;
  inputs: string[];
  output: string;
}

export interface Model {
  inputName: string;
  /** per-sample input shape, e.g. [1, 28, 28] */
  inputShape: Shape;
  outputName: string;
  layers: Layer[];
  params: Map<string, Param>;
  shapes: Map<string, Shape>;
  /** what canonization did (folded BN, removed softmax, ...), shown to users */
  notes: string[];
  /** sha256 of the source bytes */
  hash: string;
}

export const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function isParametric(op: Op): op is ConvOp | LinearOp {
  return op.type === 'conv' || op.type === 'linear';
}

export class ModelError extends Error {}

/**
 * Cut the model at a named tensor so that it becomes the output (DESIGN §1.9). Layers not
 * needed to compute it are removed.
 */
export function truncateAt(model: Model, tensor: string): Model {
  if (tensor === model.outputName) return model;
  if (!model.shapes.has(tensor) || tensor === model.inputName) {
    const names = model.layers.map((l) => l.output).join(', ');
    throw new ModelError(`output layer "${tensor}" is not a tensor of this model (tensors: ${names})`);
  }
  const needed = new Set<string>([tensor]);
  const layers: Layer[] = [];
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const l = model.layers[i];
    if (!needed.has(l.output)) continue;
    layers.unshift(l);
    for (const t of l.inputs) needed.add(t);
  }
  return { ...model, layers, outputName: tensor, notes: [...model.notes, `output layer: ${tensor}`] };
}
