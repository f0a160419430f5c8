/** onnxruntime-node implementation of the Engine (Node only). */
import { rmSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import {
  type Engine,
  type GraphSource,
  type HostTensor,
  inlineBytes,
  isBytes,
  type Session,
} from './engine.js';
import { sharedWeightFile, type WeightFile } from './weight-file.js';

export interface NodeEngineOptions {
  provider?: 'cpu' | 'webgpu';
  intraOpNumThreads?: number;
  /**
   * ONNX Runtime's weight pre-packing at session creation: true, false, or 'auto' (default: on
   * for graphs up to LARGE_GRAPH_BYTES, off above). Measured by bench/session-options.ts on the
   * 2-core CPU: VGG16's LRP pass session is created in ≈1 s without it against ≈5 s with it, and
   * its runs are no slower (README, "Measured"). Small models keep it: their sessions are created
   * in milliseconds either way, and with it a run's results do not depend on how many rows it
   * holds (without it, MLAS picks kernels by batch size: a tiny memory budget, i.e. smaller runs,
   * changed a hand-built model's attributions in the last bits, and the test that Shapley
   * sampling's mean over 400 seeds converges to the exact values failed at z = 19).
   */
  prepack?: boolean | 'auto';
  /**
   * Compiled graphs' large initializers as ONNX external data in a temporary file (weight-file.ts)
   * instead of inline: true, false, or 'auto' (default: for graphs of more than LARGE_GRAPH_BYTES).
   * VGG16's LRP pass session: compile + creation 1.6-1.8 s inline, ≈ 0.6 s from the file
   * (bench/session-options.ts). Model bytes (not compiled graphs) are always loaded inline.
   */
  externalWeights?: boolean | 'auto';
  /** folder for the weight file (default: /dev/shm on Linux, else the system's temporary folder) */
  weightDir?: string;
  /**
   * ONNX Runtime's CPU memory arena (default true): a session keeps its largest run's
   * activations for the next run, which the runner's budget counts (runner.ts, `held`).
   * Measured on VGG16's LRP pass session, 2-core CPU (scratch experiment, one process per row):
   * without it a fresh session's first 4-row run took 2.3 s more than the next ones (glibc maps
   * and faults in every large buffer anew), with it 0.3 s; later runs 1.53 s against 1.60 s;
   * peak RSS of 4 such runs 2.69 GB against 2.88 GB. False returns every run's memory to the OS.
   */
  arena?: boolean;
}

/** graphs above this size skip pre-packing and keep their weights in a file under 'auto' (VGG16's are 0.55 GB) */
export const LARGE_GRAPH_BYTES = 64 * 1024 ** 2;
/** initializers of at least this size go to the weight file */
const EXTERNAL_MIN_BYTES = 64 * 1024;

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

/** a graph's size as the size rules count it: its bytes, or its initializers' bytes */
const graphBytes = (graph: Uint8Array | GraphSource) =>
  isBytes(graph) ? graph.byteLength : graph.initializerBytes;

export class NodeEngine implements Engine {
  readonly provider: string;
  private weights: WeightFile | undefined;
  private weightsFailed = false;
  constructor(private readonly opts: NodeEngineOptions = {}) {
    this.provider = opts.provider ?? 'cpu';
  }

  async createSession(graph: Uint8Array | GraphSource): Promise<Session> {
    const size = graphBytes(graph);
    const options = this.sessionOptions(size);
    // from a file, the graph refers to the weight file beside it; it is not needed once loaded
    const path = isBytes(graph) ? undefined : this.graphFile(graph, size);
    const created = path
      ? ort.InferenceSession.create(path, options)
      : ort.InferenceSession.create(inlineBytes(graph), options);
    const s = await created
      .catch((e: Error) => {
        if (this.provider === 'cpu') throw e;
        throw new Error(
          `ONNX Runtime provider "${this.provider}" is unavailable here (${e.message.split('\n')[0]}); use --provider cpu`,
        );
      })
      .finally(() => path && rmSync(path, { force: true }));
    return new NodeSession(s);
  }

  /**
   * The path of the graph written beside the weight file, when a graph of this size keeps its
   * weights there; undefined for inline. A weight file that cannot be written (e.g. a small
   * /dev/shm in a container) is a warning, and this engine's graphs go inline from then on.
   */
  private graphFile(graph: GraphSource, size: number): string | undefined {
    const e = this.opts.externalWeights ?? 'auto';
    if (this.weightsFailed || !(e === 'auto' ? size > LARGE_GRAPH_BYTES : e)) return undefined;
    try {
      this.weights = sharedWeightFile(EXTERNAL_MIN_BYTES, this.opts.weightDir);
      return this.weights.writeGraph(graph.encode(this.weights));
    } catch (err) {
      // the shared file stays (sessions in flight may be loading from it); only this engine stops
      this.weightsFailed = true;
      process.emitWarning(
        `xspectra: cannot write the weight file (${(err as Error).message}); graphs load inline (slower, more memory). Set NodeEngine's weightDir to a folder with room.`,
      );
      return undefined;
    }
  }

  /** the weight file written so far (undefined before the first large graph) */
  get weightFile(): WeightFile | undefined {
    return this.weights;
  }

  /** whether a session of a graph of this size (bytes of its initializers) pre-packs its weights (NodeEngineOptions.prepack) */
  prepacks(size: number): boolean {
    const p = this.opts.prepack ?? 'auto';
    return p === 'auto' ? size <= LARGE_GRAPH_BYTES : p;
  }

  private sessionOptions(size: number): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [this.provider],
      graphOptimizationLevel: 'all',
      // NodeEngineOptions.arena: each session keeps its largest run's activations, counted by the
      // runner's budget (it was off while the budget did not count them: VGG16 backward +
      // forward-mode + forward sessions after 8-seed runs held 5.2 GB RSS with it, 3.4 GB without)
      enableCpuMemArena: this.opts.arena ?? true,
      logSeverityLevel: 3,
      // pre-packing re-lays every Conv/MatMul weight at creation: ≈4 s of VGG16's ≈5 s session
      // creation, for no measured speed-up of the runs (bench/session-options.ts)
      extra: { session: { disable_prepacking: this.prepacks(size) ? '0' : '1' } },
      ...(this.opts.intraOpNumThreads ? { intraOpNumThreads: this.opts.intraOpNumThreads } : {}),
    };
  }
}
