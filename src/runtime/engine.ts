/**
 * Platform-neutral runtime interface. onnxruntime-node (runtime/node.ts) and onnxruntime-web
 * implement it; the core (methods/, spectral/, ...) only sees this.
 */
import type { ExternalWeights } from '../propagate/builder.js';

export interface HostTensor {
  dims: number[];
  data: Float32Array;
}

export interface Session {
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** A compiled graph an engine may encode with its large initializers in a file (propagate/compile.ts) */
export interface GraphSource {
  readonly bytes: Uint8Array;
  encode(external?: ExternalWeights): Uint8Array;
  initializerBytes: number;
}

export interface Engine {
  /** e.g. 'cpu' or 'webgpu' */
  readonly provider: string;
  /** a session of an ONNX model: its bytes, or a compiled graph (which the engine encodes as it prefers) */
  createSession(graph: Uint8Array | GraphSource): Promise<Session>;
}

/** whether a session's source is plain bytes (isView: a Uint8Array from another realm, e.g. a worker, too) */
export const isBytes = (graph: Uint8Array | GraphSource): graph is Uint8Array => ArrayBuffer.isView(graph);

/** the inline bytes of a graph */
export const inlineBytes = (graph: Uint8Array | GraphSource): Uint8Array =>
  isBytes(graph) ? graph : graph.bytes;

/** Error for NaN/Inf in inputs or results: names the tensor and the first bad position. */
export function assertFinite(name: string, data: Float32Array | Float64Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`${name} contains ${data[i]} at flat index ${i}`);
  }
}
