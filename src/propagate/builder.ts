/**
 * A small ONNX graph builder: named values, initializers, and ops with typed attributes,
 * serialised with the onnx-proto schema. Everything the compiler emits goes through here.
 */
import {
  type AttributeProto,
  AttrType,
  DataType,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from '../model/onnx-proto.js';

/**
 * Where large initializers go instead of the graph's bytes (runtime/weight-file.ts on Node): ONNX
 * Runtime then reads them from a file by offset ("external data"), so compiling VGG16's pass graph
 * does not copy 0.55 GB into a protobuf buffer and the session does not parse them back out of it.
 * `place` returns where the bytes lie (a file name relative to the graph's file, and an offset).
 */
export interface ExternalWeights {
  /** initializers of at least this many bytes go external */
  minBytes: number;
  place(data: Uint8Array): { location: string; offset: number; length: number };
}

/** ints, int lists, strings; floats are numbers that are not integers or names prefixed `f_` */
export type AttrValue = number | number[] | string;

export interface ValueSpec {
  name: string;
  /** dims; strings are symbolic (e.g. 'B', 'K') */
  dims: (number | string)[];
  type?: 'float' | 'int64' | 'double';
}

const TYPES = { float: DataType.FLOAT, int64: DataType.INT64, double: DataType.DOUBLE };

export class GraphBuilder {
  private nodes: NodeProto[] = [];
  private inits: TensorProto[] = [];
  private inputs: ValueSpec[] = [];
  private outputs: ValueSpec[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();

  fresh(hint: string): string {
    return `${hint.replace(/[^A-Za-z0-9_]/g, '_')}__${this.counter++}`;
  }

  input(spec: ValueSpec): string {
    this.inputs.push(spec);
    return spec.name;
  }

  output(name: string, spec: Omit<ValueSpec, 'name'> & { as?: string }): void {
    const outName = spec.as ?? name;
    if (outName !== name) this.op('Identity', [name], {}, outName);
    this.outputs.push({ name: outName, dims: spec.dims, type: spec.type });
  }

  initializer(hint: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(hint);
    this.inits.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** int64 constant, deduplicated */
  ints(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims}:${values}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('i64');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.inits.push({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  /** float32 scalar/vector constant, deduplicated */
  floats(values: number[], dims: number[] = []): string {
    const key = `f:${dims}:${values}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initializer('f32', dims, Float32Array.from(values));
    this.constCache.set(key, name);
    return name;
  }

  op(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    output?: string,
    nodeName?: string,
  ): string {
    return this.opN(type, inputs, attrs, 1, output ? [output] : undefined, nodeName)[0];
  }

  opN(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrValue>,
    n: number,
    names?: string[],
    nodeName?: string,
  ): string[] {
    const outs = names ?? Array.from({ length: n }, () => this.fresh(type));
    const attribute: AttributeProto[] = Object.entries(attrs).map(([name, v]) => {
      if (typeof v === 'number') {
        return Number.isInteger(v) && !name.startsWith('f_')
          ? { name, type: AttrType.INT, i: v }
          : { name: name.replace(/^f_/, ''), type: AttrType.FLOAT, f: v };
      }
      if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
      return { name, type: AttrType.INTS, ints: v };
    });
    this.nodes.push({
      opType: type,
      input: inputs,
      output: outs,
      attribute,
      name: nodeName ?? this.fresh(`n_${type}`),
    });
    return outs;
  }

  /** bytes of all initializers (what an inline graph carries) */
  get initializerBytes(): number {
    return this.inits.reduce((a, t) => a + (t.rawData?.byteLength ?? 0), 0);
  }

  /** the ONNX model's bytes; with `external`, large initializers become references into its file */
  build(name = 'xspectra', external?: ExternalWeights): Uint8Array {
    const vi = (s: ValueSpec): ValueInfoProto => ({
      name: s.name,
      type: {
        tensorType: {
          elemType: TYPES[s.type ?? 'float'],
          shape: { dim: s.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'xspectra',
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name,
        node: this.nodes,
        initializer: external ? this.inits.map((t) => externalize(t, external)) : this.inits,
        input: this.inputs.map(vi),
        output: this.outputs.map(vi),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function externalize(t: TensorProto, external: ExternalWeights): TensorProto {
  const raw = t.rawData;
  if (!raw || raw.byteLength < external.minBytes) return t;
  const { location, offset, length } = external.place(raw);
  return {
    ...t,
    rawData: undefined,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  };
}
