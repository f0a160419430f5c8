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

/** Decode a tensor initializer into a float32 or int64 (as number[]) constant. */
export function tensorValues(
  t: TensorProto,
  where: string,
): { dims: number[]; f32?: Float32Array; i64?: number[] } {
  const dims = (t.dims ?? []).map(toNum);
  const n = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new ModelError(`${where}: tensor "${t.name}" uses external data; save the model as a single file`);
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
