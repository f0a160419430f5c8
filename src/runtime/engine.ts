/**
 * Platform-neutral runtime interface. onnxruntime-node (runtime/node.ts) and onnxruntime-web
 * implement it; the core (methods/, spectral/, ...) only sees this.
 */
export interface HostTensor {
  dims: number[];
  data: Float32Array;
}

export interface Session {
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export interface Engine {
  /** e.g. 'cpu' or 'webgpu' */
  readonly provider: string;
  createSession(bytes: Uint8Array): Promise<Session>;
}

/** Error for NaN/Inf in inputs or results: names the tensor and the first bad position. */
export function assertFinite(name: string, data: Float32Array | Float64Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`${name} contains ${data[i]} at flat index ${i}`);
  }
}
