/**
 * onnxruntime-web implementation of the Engine (browsers: WASM, multi-threaded when the page is
 * cross-origin isolated, or WebGPU). The ort module is passed in rather than imported, so this
 * file has no runtime dependency: the lab loads onnxruntime-web's own unbundled files at run
 * time (their worker scripts and .wasm must sit next to each other for threads to start).
 */
import type * as ortTypes from 'onnxruntime-web';
import { type Engine, type GraphSource, type HostTensor, inlineBytes, type Session } from './engine.js';

export type OrtWeb = typeof ortTypes;
export type WebProvider = 'wasm' | 'webgpu';

class WebSession implements Session {
  constructor(
    private readonly ort: OrtWeb,
    private readonly s: ortTypes.InferenceSession,
  ) {}

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const f: Record<string, ortTypes.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new this.ort.Tensor('float32', v.data, v.dims);
    const out = await this.s.run(f);
    const res: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) {
      // GPU outputs are downloaded; CPU outputs are copied out of the wasm heap's view.
      const data = (v.location === 'cpu' ? v.data : await v.getData()) as Float32Array;
      res[k] = { dims: [...v.dims], data };
    }
    return res;
  }

  async release(): Promise<void> {
    await this.s.release();
  }
}

export class WebEngine implements Engine {
  readonly provider: WebProvider;
  constructor(
    private readonly ort: OrtWeb,
    provider: WebProvider = 'wasm',
  ) {
    this.provider = provider;
  }

  async createSession(graph: Uint8Array | GraphSource): Promise<Session> {
    const s = await this.ort.InferenceSession.create(inlineBytes(graph), {
      executionProviders: [this.provider],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    }).catch((e: Error) => {
      throw new Error(`onnxruntime-web (${this.provider}): ${e.message.split('\n')[0]}`);
    });
    return new WebSession(this.ort, s);
  }
}

/** sha256 of model bytes with the Web Crypto API (the browser's counterpart of load-file.ts). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
