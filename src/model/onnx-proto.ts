/** Access to the ONNX protobuf schema (from the maintained `onnx-proto` package). */
import onnxProto from 'onnx-proto';
import { ModelError } from './ir.js';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
export const AttrType = onnx.AttributeProto.AttributeType;

const toNum = (v: unknown): number => (typeof v === 'number' ? v : Number(v as { toString(): string }));

/** A constant tensor: float data as float32, integers as numbers */
export interface Const {
  dims: number[];
  f32?: Float32Array;
  i64?: number[];
}

/** IEEE half (binary16) bits → number */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Whether a tensor holds 16-bit floats (converted to float32 when read) */
export const isHalf = (t: TensorProto): boolean =>
  t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16;

/**
 * Decode a tensor initializer into a float32 or int64 (as number[]) constant. float16 / bfloat16
 * become float32 (exactly: every half value is a float32 value).
 */
export function tensorValues(t: TensorProto, where: string): Const {
  const dims = (t.dims ?? []).map(toNum);
  const n = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    // parseModel inlines external data first (external-data.ts); this is a tensor it could not
    throw new ModelError(
      `${where}: tensor "${t.name}" uses external data; load the model from its file path (or pass the directory of its data file)`,
    );
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  switch (t.dataType) {
    case DataType.FLOAT: {
      const f32 = new Float32Array(n);
      if (view) for (let i = 0; i < n; i++) f32[i] = view.getFloat32(4 * i, true);
      else f32.set(t.floatData ?? []);
      return { dims, f32 };
    }
    case DataType.DOUBLE: {
      const f32 = new Float32Array(n);
      if (view) for (let i = 0; i < n; i++) f32[i] = view.getFloat64(8 * i, true);
      else f32.set(t.doubleData ?? []);
      return { dims, f32 };
    }
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      // raw: 2 bytes each; otherwise the bits are stored in int32_data (ONNX spec)
      const bits = (i: number) => (view ? view.getUint16(2 * i, true) : toNum((t.int32Data ?? [])[i]));
      const f32 = new Float32Array(n);
      const bf = t.dataType === DataType.BFLOAT16;
      for (let i = 0; i < n; i++) f32[i] = bf ? bitsToBfloat(bits(i)) : halfToFloat(bits(i));
      return { dims, f32 };
    }
    case DataType.INT64: {
      const i64: number[] = [];
      if (view) for (let i = 0; i < n; i++) i64.push(Number(view.getBigInt64(8 * i, true)));
      else for (const v of t.int64Data ?? []) i64.push(toNum(v));
      return { dims, i64 };
    }
    case DataType.INT32: {
      const i64: number[] = [];
      if (view) for (let i = 0; i < n; i++) i64.push(view.getInt32(4 * i, true));
      else for (const v of t.int32Data ?? []) i64.push(toNum(v));
      return { dims, i64 };
    }
    default:
      throw new ModelError(`${where}: tensor "${t.name}" has unsupported data type ${t.dataType}`);
  }
}

const bfScratch = new DataView(new ArrayBuffer(4));
function bitsToBfloat(b: number): number {
  bfScratch.setUint32(0, b << 16, true);
  return bfScratch.getFloat32(0, true);
}

export function attrs(node: NodeProto): Map<string, AttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}
export function attrInt(a: Map<string, AttributeProto>, name: string, dflt: number): number {
  const v = a.get(name);
  return v ? toNum(v.i) : dflt;
}
export function attrFloat(a: Map<string, AttributeProto>, name: string, dflt: number): number {
  const v = a.get(name);
  return v ? (v.f ?? dflt) : dflt;
}
export function attrInts(a: Map<string, AttributeProto>, name: string): number[] | undefined {
  const v = a.get(name);
  return v ? (v.ints ?? []).map(toNum) : undefined;
}
export function attrString(a: Map<string, AttributeProto>, name: string): string | undefined {
  const v = a.get(name);
  return v?.s ? new TextDecoder().decode(v.s) : undefined;
}
