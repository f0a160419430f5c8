/** onnxruntime-node implementation of the Engine (Node only). */
import * as ort from 'onnxruntime-node';
import type { Engine, HostTensor, Session } from './engine.js';

export interface NodeEngineOptions {
  provider?: 'cpu' | 'webgpu';
  intraOpNumThreads?: number;
  /**
   * ONNX Runtime's weight pre-packing at session creation: true, false, or 'auto' (default: on
   * for graphs up to PREPACK_MAX_BYTES, off above). Measured by bench/session-options.ts on the
   * 2-core CPU: VGG16's LRP pass session is created in ≈1 s without it against ≈5 s with it, and
   * its runs are no slower (README, "Measured"). Small models keep it: their sessions are created
   * in milliseconds either way, and with it a run's results do not depend on how many rows it
   * holds (without it, MLAS picks kernels by batch size: a tiny memory budget, i.e. smaller runs,
   * changed a hand-built model's attributions in the last bits, and the test that Shapley
   * sampling's mean over 400 seeds converges to the exact values failed at z = 19).
   */
  prepack?: boolean | 'auto';
}

/** graphs up to this size pre-pack their weights under prepack 'auto' (VGG16's are 0.55 GB) */
export const PREPACK_MAX_BYTES = 64 * 1024 ** 2;

class NodeSession implements Session {
  constructor(private readonly s: ort.InferenceSession) {}

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
    const out = await this.s.run(f);
    const res: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) {
      res[k] = { dims: [...v.dims], data: v.data as Float32Array };
    }
    return res;
  }

  async release(): Promise<void> {
    await this.s.release();
  }
}

export class NodeEngine implements Engine {
  readonly provider: string;
  constructor(private readonly opts: NodeEngineOptions = {}) {
    this.provider = opts.provider ?? 'cpu';
  }

  async createSession(bytes: Uint8Array): Promise<Session> {
    const s = await ort.InferenceSession.create(bytes, this.sessionOptions(bytes)).catch((e: Error) => {
      if (this.provider === 'cpu') throw e;
      throw new Error(
        `ONNX Runtime provider "${this.provider}" is unavailable here (${e.message.split('\n')[0]}); use --provider cpu`,
      );
    });
    return new NodeSession(s);
  }

  /** whether a session of this graph pre-packs its weights (NodeEngineOptions.prepack) */
  prepacks(bytes: Uint8Array): boolean {
    const p = this.opts.prepack ?? 'auto';
    return p === 'auto' ? bytes.byteLength <= PREPACK_MAX_BYTES : p;
  }

  private sessionOptions(bytes: Uint8Array): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [this.provider],
      graphOptimizationLevel: 'all',
      // session lifetime / memory (issue 10): without the arena a run's activations go back to the
      // OS when it ends; with it every session keeps its peak (VGG16, LRP backward + forward-mode
      // + forward sessions after 8-seed runs: 5.2 GB RSS with the arena, 3.4 GB without)
      enableCpuMemArena: false,
      logSeverityLevel: 3,
      // pre-packing re-lays every Conv/MatMul weight at creation: ≈4 s of VGG16's ≈5 s session
      // creation, for no measured speed-up of the runs (bench/session-options.ts)
      extra: { session: { disable_prepacking: this.prepacks(bytes) ? '0' : '1' } },
      ...(this.opts.intraOpNumThreads ? { intraOpNumThreads: this.opts.intraOpNumThreads } : {}),
    };
  }
}
