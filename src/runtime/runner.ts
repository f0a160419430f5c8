/**
 * A model bound to an engine: compiles and caches sessions per pass, and runs them in chunks
 * whose size is chosen from a total memory budget (runtime/memory.ts, default 4 GiB: runtime,
 * weights, live sessions, reservations such as R, and one run together) so that many seeds never
 * exhaust memory. Results are assembled on the host; nothing computed is lost when a later chunk
 * fails.
 */
import type { Model } from '../model/ir.js';
import { size } from '../model/ir.js';
import {
  compileBackward,
  compileForward,
  compileForwardMode,
  compilePasses,
  IO,
  type PassMode,
  type SeedScaling,
  seedScalingInput,
} from '../propagate/compile.js';
import type { MaxPoolForm } from '../propagate/maxpool.js';
import { assertFinite, type Engine, type GraphSource, type HostTensor, type Session } from './engine.js';
import {
  assertFits,
  DEFAULT_MEMORY_BUDGET,
  freeBytes,
  type MemoryModel,
  type RunKind,
  rowBytes,
  rowsWithin,
  sessionsWithin,
} from './memory.js';

export { DEFAULT_MEMORY_BUDGET };

export const maxPoolFormFor = (provider: string): MaxPoolForm => (provider === 'cpu' ? 'indices' : 'window');

/** models with more weight bytes than this combine backward and forward mode in one session */
export const LARGE_MODEL_BYTES = 256 * 1024 ** 2;

/**
 * Largest single tensor (bytes) one run may create on a GPU provider. ONNX Runtime's WebGPU provider
 * failed on an H100 with a 2.4 GB tensor (186 VGG16 seeds × 64×224×224 floats: "Non-zero status
 * code returned while running Conv node … raw_hash_map<>::at", ENGINE-NOTES §8.7) and ran with 18
 * seeds (230 MB); WebGPU buffers are bounded by the adapter's maxBufferSize (2^31 bytes or less on
 * common drivers). 1 GiB stays below that with room for provider-internal copies.
 */
export const GPU_MAX_TENSOR_BYTES = 1024 ** 3;

export interface RunnerOptions {
  /** bytes the whole process may use (runtime/memory.ts; default DEFAULT_MEMORY_BUDGET, 4 GiB) */
  memoryBudget?: number;
  /** per-tensor limit (bytes) for one run; default: none on the CPU, GPU_MAX_TENSOR_BYTES otherwise */
  maxTensorBytes?: number;
  /**
   * 'combined': one session per pass serves backward and forward mode (compilePasses), holding
   * the weights once; 'separate': a backward and a forward-mode session, each without the other's
   * idle branch (≈ 0.1-0.4 ms less per run on the MNIST CNN). Default 'auto': combined for models
   * above LARGE_MODEL_BYTES, where a session's weights cost ≈ 1.3-1.5 GB and ≈ 10 s to create.
   */
  sessions?: 'auto' | 'combined' | 'separate';
}

export class ModelRunner {
  private sessions = new Map<string, Promise<Session>>();
  readonly inputSize: number;
  readonly outputSize: number;
  /** floats of activations per sample: the unit of the memory estimate */
  private readonly activationFloats: number;
  /** floats of the largest tensor per sample of any pass (max-pool windows unfold to kh·kw·Ho·Wo) */
  private readonly largestTensorFloats: number;
  readonly maxTensorBytes: number;
  /** bytes of all parameters (float32) */
  readonly weightBytes: number;
  /** whether backward and forward mode share one session per pass (RunnerOptions.sessions) */
  readonly combinedSessions: boolean;
  /** the budget's view of this model (runtime/memory.ts) */
  readonly memory: MemoryModel;
  /** bytes reserved by callers (R held in memory) */
  private reservedBytes = 0;
  /**
   * Bytes of the largest run each live session has run. ONNX Runtime's CPU arena keeps a run's
   * activations for the next one (runtime/node.ts; onnxruntime-node cannot shrink it between
   * runs), so a session holds them until released, and they count against the budget of every
   * other session's runs and of new sessions.
   */
  private held = new Map<string, number>();

  constructor(
    readonly model: Model,
    readonly engine: Engine,
    opts: RunnerOptions = {},
  ) {
    this.inputSize = size(model.inputShape);
    this.outputSize = size(model.shapes.get(model.outputName)!);
    this.activationFloats = [...model.shapes.values()].reduce((a, s) => a + size(s), 0);
    this.weightBytes = [...model.params.values()].reduce((a, p) => a + 4 * p.data.length, 0);
    this.largestTensorFloats = Math.max(
      ...[...model.shapes.values()].map(size),
      ...model.layers.map((l) =>
        l.op.type === 'maxpool' ? l.op.kernel[0] * l.op.kernel[1] * size(model.shapes.get(l.output)!) : 0,
      ),
    );
    const layout = opts.sessions ?? 'auto';
    this.combinedSessions =
      layout === 'combined' || (layout === 'auto' && this.weightBytes > LARGE_MODEL_BYTES);
    this.maxTensorBytes =
      opts.maxTensorBytes ?? (engine.provider === 'cpu' ? Number.POSITIVE_INFINITY : GPU_MAX_TENSOR_BYTES);
    this.memory = {
      total: opts.memoryBudget ?? DEFAULT_MEMORY_BUDGET,
      weightBytes: this.weightBytes,
      activationFloats: this.activationFloats,
    };
    assertFits(this.memory, `this model (${(this.weightBytes / 1e6).toFixed(1)} MB of weights)`);
  }

  /**
   * The max-pool form the provider runs: ONNX Runtime's WebGPU provider rejects MaxPool's Indices
   * output, so every provider but the CPU gets the window form (propagate/maxpool.ts).
   */
  forProvider(pass: PassMode): PassMode {
    if (pass.maxPool) return pass;
    return { ...pass, maxPool: maxPoolFormFor(this.engine.provider) };
  }

  /**
   * Sessions live in a least-recently-used cache. Every session holds its own copy of the
   * weights (plus constant-folded variants: measured ≈ 1.3-1.5 GB per backward / forward-mode
   * session of VGG16's 0.55 GB), so no more stay alive than the memory budget holds
   * (`maxSessions`: one for VGG16 at the default budget); with combined sessions one pass session
   * serves backward and forward mode, and `forward` borrows it.
   */
  private async session(key: string, build: () => GraphSource): Promise<Session> {
    let s = this.sessions.get(key);
    if (s) {
      this.sessions.delete(key);
      this.sessions.set(key, s);
      return s;
    }
    while (this.sessions.size >= this.maxSessions) {
      // a forward session beside pass sessions goes first (`forward`: their logits can come from
      // a pass session), else the least recently used
      const oldest =
        this.combinedSessions && key !== 'forward' && this.sessions.has('forward')
          ? 'forward'
          : this.sessions.keys().next().value!;
      await this.drop(oldest);
    }
    s = this.engine.createSession(build());
    this.sessions.set(key, s);
    s.catch(() => this.forget(key));
    return s;
  }

  /** forget a session (its arena goes with it) */
  private forget(key: string): Promise<Session> | undefined {
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    this.held.delete(key);
    return s;
  }

  /** forget and release a session */
  private async drop(key: string): Promise<void> {
    const s = this.forget(key);
    if (s) await (await s).release();
  }

  /**
   * bytes the live sessions' arenas hold, but for `key`'s (a run reuses its own session's arena);
   * counted whatever the engine: the web engine's WebAssembly memory never shrinks either, and
   * a NodeEngine without the arena is only over-counted
   */
  private heldBesides(key?: string): number {
    let sum = 0;
    for (const [k, b] of this.held) if (k !== key) sum += b;
    return sum;
  }

  /** the most recently used session: where a run without a named session is assumed to go */
  private get current(): string | undefined {
    return [...this.sessions.keys()].pop();
  }

  /** note that a run of `rows` rows of this kind ran on `key`'s session (its arena now holds them) */
  private ran(key: string, kind: RunKind, rows: number): void {
    this.held.set(key, Math.max(this.held.get(key) ?? 0, rows * rowBytes(this.memory, kind)));
  }

  /** the process's memory budget in bytes (RunnerOptions.memoryBudget) */
  get memoryBudget(): number {
    return this.memory.total;
  }

  /** live sessions the budget allows at once next to one run and the reservations (at least 1) */
  get maxSessions(): number {
    return sessionsWithin(this.memory, this.reservedBytes + this.heldBesides());
  }

  /**
   * How many seed rows (or samples) of a run of this kind fit what the budget leaves after the
   * runtime, the weights, the live sessions (at least one) and the reservations (runtime/memory.ts:
   * VGG16 at the default 4 GiB: 4 rows, 3 next to its exact R), what the other sessions' arenas
   * hold, and the provider's per-tensor limit. `key`: the session the run goes to (default: the
   * most recently used).
   */
  rowsPerRun(kind: RunKind = 'backward', key = this.current): number {
    return this.rowsWith(kind, this.sessions.size, this.heldBesides(key));
  }

  /** rows per run of this kind with this many live sessions whose arenas hold `held` bytes */
  private rowsWith(kind: RunKind, liveSessions: number, held: number): number {
    const byBudget = rowsWithin(this.memory, kind, liveSessions, this.reservedBytes + held);
    const byTensor = Math.floor(this.maxTensorBytes / (4 * this.largestTensorFloats));
    return Math.max(1, Math.min(byBudget, byTensor));
  }

  /** bytes the budget has left for one run (on the most recently used session) with the live sessions and reservations */
  freeBytes(): number {
    return freeBytes(this.memory, this.sessions.size, this.reservedBytes + this.heldBesides(this.current));
  }

  /**
   * Reserve bytes of the budget (e.g. R held in memory) while they are in use: runs shrink to
   * fit; returns the release function.
   */
  reserve(bytes: number): () => void {
    this.reservedBytes += bytes;
    let done = false;
    return () => {
      if (!done) this.reservedBytes -= bytes;
      done = true;
    };
  }

  /**
   * logits for a batch of inputs [B, ...] → [B, c]. `via`: the pass that comes next; with combined
   * sessions (large models) the logits come from that pass's session (its forward part only) instead of creating a
   * forward session that holds another copy of the weights.
   */
  async forward(
    xs: Float32Array,
    batch: number,
    via?: { passKey: string; pass: PassMode },
  ): Promise<Float32Array> {
    if (via && this.combinedSessions) {
      const key = this.passSessionKey(via.passKey, 'bwd');
      return this.logitsOf(key, await this.passSession(via.passKey, via.pass, 'bwd'), xs, batch, true);
    }
    // with combined sessions, a live one serves the logits when the budget has no room for a
    // forward session next to it (VGG16 at the default budget); where it has, a forward session is
    // created: ONNX Runtime runs every node of a pass session whatever is fetched, so its forward
    // costs 2.5× a plain one (VGG16: pixel flipping's 21 images)
    const live = this.borrowablePassSession();
    if (live) return this.logitsOf(live, await this.sessions.get(live)!, xs, batch, true);
    const s = await this.session('forward', () => compileForward(this.model));
    return this.logitsOf('forward', s, xs, batch, false);
  }

  /** the live pass session `forward` would read the logits from (no room for a forward session beside it) */
  private borrowablePassSession(): string | undefined {
    if (this.sessions.has('forward') || this.sessions.size < this.maxSessions) return undefined;
    return [...this.sessions.keys()].reverse().find((k) => k.startsWith('pass:'));
  }

  /**
   * Before many forward passes (e.g. pixel flipping a chunk of images): release the pass
   * sessions whose logits `forward` would otherwise borrow, so that it gets a forward session of
   * its own (2.5× cheaper per pass on VGG16); they are made again when next needed.
   */
  async makeRoomForForward(): Promise<void> {
    if (this.borrowablePassSession()) await this.releaseExcept(['forward']);
  }

  /**
   * A forward session next to a combined pass session (see `forward`) is a convenience: when it
   * takes rows from a backward or forward-mode run that needs them (`needed`: e.g. the next
   * image's exact R, 503 rows on VGG16), it is released first and created again when logits are
   * next asked for.
   */
  private async yieldForwardSession(kind: RunKind, needed: number, key: string): Promise<void> {
    if (!this.sessions.has('forward') || !this.combinedSessions) return;
    const n = this.sessions.size;
    const held = this.heldBesides(key);
    const rows = this.rowsWith(kind, n, held);
    const without = this.rowsWith(kind, n - 1, held - (this.held.get('forward') ?? 0));
    if (rows >= needed || without <= rows) return;
    await this.drop('forward');
  }

  /** logits of a batch from a forward session, or from a pass session fed no seeds or tangents */
  private async logitsOf(
    key: string,
    s: Session,
    xs: Float32Array,
    batch: number,
    pass: boolean,
  ): Promise<Float32Array> {
    const out = new Float32Array(batch * this.outputSize);
    const chunk = this.rowsPerRun('forward', key);
    const shape = this.model.inputShape;
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const nb = Math.min(chunk, batch - b0);
      const feeds: Record<string, HostTensor> = {
        [IO.x]: { dims: [nb, ...shape], data: xs.subarray(b0 * this.inputSize, (b0 + nb) * this.inputSize) },
      };
      if (pass) Object.assign(feeds, this.idleSeeds(nb), this.idleTangents(nb));
      out.set((await s.run(feeds))[IO.logits].data, b0 * this.outputSize);
      this.ran(key, 'forward', nb);
    }
    assertFinite('model output', out);
    return out;
  }

  /**
   * Seeds / tangents for the branch of a pass session a run does not need: none (K = 0) on the
   * CPU; one zero row elsewhere, since ONNX Runtime's WebGPU provider rejects empty Conv inputs
   * ("Invalid dispatch group size (1, 32, 0)").
   */
  private get idleK(): number {
    return this.engine.provider === 'cpu' ? 0 : 1;
  }

  private idleSeeds(nb: number): Record<string, HostTensor> {
    const k = this.idleK;
    return {
      [IO.seeds]: { dims: [nb, k, this.outputSize], data: new Float32Array(nb * k * this.outputSize) },
      [IO.seedScaling]: { dims: [2], data: seedScalingInput() },
    };
  }

  private idleTangents(nb: number): Record<string, HostTensor> {
    const k = this.idleK;
    const shape = this.model.inputShape;
    return { [IO.tangents]: { dims: [nb, k, ...shape], data: new Float32Array(nb * k * this.inputSize) } };
  }

  /**
   * The session a pass's branch runs on: with combined sessions one per pass (its other branch is
   * fed idle seeds or tangents; both share the forward pass, the weights and LRP's modified
   * weights), otherwise one per branch.
   */
  private passSession(passKey: string, pass: PassMode, branch: 'bwd' | 'fm'): Promise<Session> {
    const p = this.forProvider(pass);
    const key = this.passSessionKey(passKey, branch);
    if (this.combinedSessions) return this.session(key, () => compilePasses(this.model, p));
    const compile = branch === 'bwd' ? compileBackward : compileForwardMode;
    return this.session(key, () => compile(this.model, p));
  }

  private passSessionKey(passKey: string, branch: 'bwd' | 'fm'): string {
    return this.combinedSessions ? `pass:${passKey}` : `${branch}:${passKey}`;
  }

  /**
   * Backward pass for B inputs and K seeds per input (seeds [K, c], shared by all inputs), each
   * run scaling the seeds by its own outputs as `scaling` says (default: not at all).
   * Returns attributions [B, K, ...input] and logits [B, c].
   */
  async backward(
    passKey: string,
    pass: PassMode,
    xs: Float32Array,
    batch: number,
    seeds: Float32Array,
    K: number,
    scaling?: SeedScaling,
  ): Promise<{ attributions: Float32Array; logits: Float32Array }> {
    const s = await this.passSession(passKey, pass, 'bwd');
    const d = this.inputSize;
    const c = this.outputSize;
    const attributions = new Float32Array(batch * K * d);
    const logits = new Float32Array(batch * c);
    const key = this.passSessionKey(passKey, 'bwd');
    await this.yieldForwardSession('backward', batch * K, key);
    const rows = this.rowsPerRun('backward', key);
    const kChunk = Math.max(1, Math.min(K, rows));
    const bChunk = Math.max(1, Math.floor(rows / kChunk));
    for (let b0 = 0; b0 < batch; b0 += bChunk) {
      const nb = Math.min(bChunk, batch - b0);
      const xChunk = xs.subarray(b0 * d, (b0 + nb) * d);
      for (let k0 = 0; k0 < K; k0 += kChunk) {
        const nk = Math.min(kChunk, K - k0);
        const sd = new Float32Array(nb * nk * c);
        for (let b = 0; b < nb; b++) sd.set(seeds.subarray(k0 * c, (k0 + nk) * c), b * nk * c);
        const r = await s.run({
          [IO.x]: { dims: [nb, ...this.model.inputShape], data: xChunk },
          [IO.seeds]: { dims: [nb, nk, c], data: sd },
          [IO.seedScaling]: { dims: [2], data: seedScalingInput(scaling) },
          ...(this.combinedSessions && this.idleTangents(nb)),
        });
        this.ran(key, 'backward', nb * nk);
        const a = r[IO.attribution].data;
        for (let b = 0; b < nb; b++)
          attributions.set(a.subarray(b * nk * d, (b + 1) * nk * d), ((b0 + b) * K + k0) * d);
        if (k0 === 0) logits.set(r[IO.logits].data, b0 * c);
      }
    }
    assertFinite(`attributions (${passKey})`, attributions);
    return { attributions, logits };
  }

  /** Forward-mode products for one input: tangents [K, ...input] → [K, c] */
  async forwardMode(
    passKey: string,
    pass: PassMode,
    x: Float32Array,
    tangents: Float32Array,
    K: number,
  ): Promise<Float32Array> {
    return this.forwardModeBatch(passKey, pass, x, 1, tangents, K);
  }

  /**
   * Forward-mode products for B inputs (SmoothGrad's noisy copies, IG's path points) and K
   * tangents shared by all of them: tangents [K, ...input] → products [B, K, c]. Chunked like
   * `backward`, so the B·K rows of one run stay within the memory budget.
   */
  async forwardModeBatch(
    passKey: string,
    pass: PassMode,
    xs: Float32Array,
    batch: number,
    tangents: Float32Array,
    K: number,
  ): Promise<Float32Array> {
    const s = await this.passSession(passKey, pass, 'fm');
    const d = this.inputSize;
    const c = this.outputSize;
    const out = new Float32Array(batch * K * c);
    const key = this.passSessionKey(passKey, 'fm');
    await this.yieldForwardSession('forward-mode', batch * K, key);
    const rows = this.rowsPerRun('forward-mode', key);
    const kChunk = Math.max(1, Math.min(K, rows));
    const bChunk = Math.max(1, Math.floor(rows / kChunk));
    for (let b0 = 0; b0 < batch; b0 += bChunk) {
      const nb = Math.min(bChunk, batch - b0);
      for (let k0 = 0; k0 < K; k0 += kChunk) {
        const nk = Math.min(kChunk, K - k0);
        const t = tangents.subarray(k0 * d, (k0 + nk) * d);
        const td = nb === 1 ? t : new Float32Array(nb * nk * d);
        if (nb > 1) for (let b = 0; b < nb; b++) td.set(t, b * nk * d);
        const r = await s.run({
          [IO.x]: { dims: [nb, ...this.model.inputShape], data: xs.subarray(b0 * d, (b0 + nb) * d) },
          [IO.tangents]: { dims: [nb, nk, ...this.model.inputShape], data: td },
          ...(this.combinedSessions && this.idleSeeds(nb)),
        });
        this.ran(key, 'forward-mode', nb * nk);
        const p = r[IO.products].data;
        for (let b = 0; b < nb; b++)
          out.set(p.subarray(b * nk * c, (b + 1) * nk * c), ((b0 + b) * K + k0) * c);
      }
    }
    assertFinite(`forward-mode products (${passKey})`, out);
    return out;
  }

  /**
   * Release the cached sessions whose pass key does not start with one of `keep` (e.g. the
   * previous γ of a sweep): on VGG16 every session holds its own ~0.5-1 GB copy of the weights,
   * so sessions that are no longer needed must go before the next ones are created.
   */
  async releaseExcept(keep: string[] = []): Promise<void> {
    for (const key of [...this.sessions.keys()]) {
      const pass = key.replace(/^(pass|bwd|fm):/, '');
      if (keep.some((k) => key === k || pass === k || pass.startsWith(`${k}:`))) continue;
      await this.drop(key);
    }
  }

  /** number of live sessions (for tests and the memory report) */
  get sessionCount(): number {
    return this.sessions.size;
  }

  async release(): Promise<void> {
    for (const key of [...this.sessions.keys()]) await this.drop(key);
  }
}
