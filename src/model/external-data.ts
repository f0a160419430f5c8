/**
 * External-data ONNX files: tensors whose bytes live in another file, named by the tensor's
 * `location` entry relative to the model's directory (how ONNX Runtime and onnx.load resolve them),
 * with optional `offset` and `length`. The platform-neutral core gets a reader for those relative
 * locations (load-file.ts reads next to the model file; api/node.ts from a given directory) and
 * inlines the bytes as raw data before anything else looks at the tensors.
 */
import { ModelError } from './ir.js';
import { type GraphProto, onnx, type TensorProto } from './onnx-proto.js';

/** Bytes of the file at a location relative to the model's directory */
export type ExternalDataReader = (location: string) => Uint8Array;

function externalTensors(graph: GraphProto): TensorProto[] {
  const ts = [...(graph.initializer ?? [])];
  for (const n of graph.node ?? []) for (const a of n.attribute ?? []) if (a.t) ts.push(a.t);
  return ts.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
}

/** Inline every external tensor's bytes; returns the locations read (for the model's identity) */
export function inlineExternalData(
  graph: GraphProto,
  read: ExternalDataReader | undefined,
  src: string,
): string[] {
  const tensors = externalTensors(graph);
  if (tensors.length === 0) return [];
  const files = new Map<string, Uint8Array>();
  for (const t of tensors) {
    const where = `${src}: tensor "${t.name ?? ''}"`;
    const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = kv.get('location');
    if (!location) throw new ModelError(`${where}: external data without a "location"`);
    // ONNX Runtime refuses locations outside the model's directory; so do we, by name
    if (location.startsWith('/') || /^[A-Za-z]:/.test(location) || location.split(/[\\/]/).includes('..'))
      throw new ModelError(
        `${where}: external data location "${location}" must be relative to the model's directory`,
      );
    if (!read)
      throw new ModelError(
        `${where}: uses external data ("${location}"); load the model from its file path, or pass the directory of "${location}"`,
      );
    let data = files.get(location);
    if (!data) {
      try {
        data = read(location);
      } catch (e) {
        throw new ModelError(`${where}: cannot read external data "${location}": ${(e as Error).message}`);
      }
      files.set(location, data);
    }
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : data.length - offset;
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > data.length
    )
      throw new ModelError(
        `${where}: external data "${location}" bytes [${kv.get('offset') ?? 0}, +${kv.get('length') ?? 'rest'}) outside its ${data.length} bytes`,
      );
    t.rawData = data.subarray(offset, offset + length);
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  }
  return [...files.keys()];
}
