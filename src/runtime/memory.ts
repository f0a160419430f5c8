/**
 * The memory budget (`--memory-budget`) bounds the whole process, not one run: the runtime
 * itself, the model's weights held in JavaScript, the live ONNX Runtime sessions (each with the
 * rows of the largest run it ran, which ONNX Runtime's CPU arena keeps: runner.ts, `held`), what
 * callers reserve (R held in memory) and one run's activations must fit it together. Chunk sizes and
 * the number of live sessions follow from what is left, and a budget that cannot hold even one
 * session and one row is refused before anything runs.
 *
 * The constants are estimates calibrated on VGG16 (553 MB of weights, ≈ 30 M activation floats
 * per sample) on the CPU provider, against peak RSS (VmHWM) measured by bench/imagenet.ts:
 * - runtime: Node, onnxruntime-node and the library's modules ≈ 175 MB RSS before any model;
 * - a pass session: ≈ 3.5 × the weights (VGG16: its weights, LRP's modified weights and the
 *   constant-folded rule terms; a matrix-free estimate at 4 rows per run peaked at 3.85 GB with
 *   4 × 0.28 GB of runs, leaving ≈ 2.7 GB for runtime, weights and one session);
 * - a row of any run: three float32 copies of every activation (the forward activations, the
 *   relevance or tangent, a temporary). Fewer were too few: with 2 per backward row and 1 per
 *   forward row, VGG16's LRP matrix-free estimate ran 6 backward rows and pixel flipping 12
 *   forward rows per run (a forward run through a combined pass session keeps every activation
 *   alive for the idle branches) and peaked at 4.78 GiB, against ≤ 3.85 GiB at 4 rows.
 * These were measured with ONNX Runtime's weight pre-packing on and the weights inline. NodeEngine
 * now turns pre-packing off for large graphs and maps their weights from a shared file
 * (runtime/node.ts, weight-file.ts), and with the CPU arena on (its kept rows counted by the
 * runner) the same VGG16 cases peak at 1.80-3.36 GiB at the default budget, so the session
 * factor is conservative by more than one copy of the weights; it is kept until recalibrated on more than one model (and RSS counts a mapped weight page once per session).
 */

/** default total budget: VGG16 gets 4 rows per run (its exact R goes to disk rather than cost one) */
export const DEFAULT_MEMORY_BUDGET = 4 * 1024 ** 3;
/** Node, onnxruntime-node and the library before any model (measured ≈ 175 MB) */
export const RUNTIME_BYTES = 256 * 1024 ** 2;
/** one pass session ≈ this × the weights' bytes (see the header) */
export const SESSION_WEIGHT_FACTOR = 3.5;
/** and a fixed part per session (graph, arena, thread pools) */
export const SESSION_FIXED_BYTES = 16 * 1024 ** 2;

export type RunKind = 'forward' | 'backward' | 'forward-mode';

/** live float32 copies of every activation per row of a run, by pass kind */
const COPIES_PER_ROW: Record<RunKind, number> = { forward: 3, backward: 3, 'forward-mode': 3 };

export interface MemoryModel {
  /** the total budget in bytes */
  total: number;
  /** bytes of the model's weights (float32), held in JavaScript by the model IR */
  weightBytes: number;
  /** floats of activations per sample */
  activationFloats: number;
}

export const sessionBytes = (m: MemoryModel): number =>
  SESSION_WEIGHT_FACTOR * m.weightBytes + SESSION_FIXED_BYTES;

export const rowBytes = (m: MemoryModel, kind: RunKind): number =>
  COPIES_PER_ROW[kind] * 4 * m.activationFloats;

/** bytes committed before any run: runtime, weights, live sessions and reservations */
export const committedBytes = (m: MemoryModel, liveSessions: number, reserved: number): number =>
  RUNTIME_BYTES + m.weightBytes + liveSessions * sessionBytes(m) + reserved;

/** bytes left for one run next to the live sessions (at least one) and the reservations */
export const freeBytes = (m: MemoryModel, liveSessions: number, reserved: number): number =>
  m.total - committedBytes(m, Math.max(1, liveSessions), reserved);

/** rows one run may hold with what is committed (at least 1: `assertFits` refuses budgets below) */
export function rowsWithin(m: MemoryModel, kind: RunKind, liveSessions: number, reserved: number): number {
  return Math.max(1, Math.floor(freeBytes(m, liveSessions, reserved) / rowBytes(m, kind)));
}

/** live sessions the budget allows next to one forward-mode row (at least 1) */
export function sessionsWithin(m: MemoryModel, reserved: number): number {
  const free = m.total - committedBytes(m, 0, reserved) - rowBytes(m, 'forward-mode');
  return Math.max(1, Math.floor(free / sessionBytes(m)));
}

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;

/** The smallest budget that runs the model: runtime, weights, one session and one row */
export function minimumBudget(m: MemoryModel): number {
  return committedBytes(m, 1, 0) + rowBytes(m, 'forward-mode');
}

/** Refuse a budget that cannot hold the runtime, the weights, one session and one row */
export function assertFits(m: MemoryModel, what: string): void {
  const need = minimumBudget(m);
  if (m.total >= need) return;
  throw new Error(
    `memory budget ${gib(m.total)} is too small for ${what}: it needs about ${gib(need)} ` +
      `(runtime ${gib(RUNTIME_BYTES)}, weights ${gib(m.weightBytes)}, one session ${gib(sessionBytes(m))}, ` +
      `one run row ${gib(rowBytes(m, 'forward-mode'))}); raise --memory-budget`,
  );
}
