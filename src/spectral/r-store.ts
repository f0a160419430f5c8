/**
 * Where R's entries live: in memory (a row-major float64 array, reserved against the runner's
 * memory budget) or, when R does not fit what the budget leaves, in a file (Node: io/r-file.ts,
 * float32 column-major, which is what the attributions are computed in). Everything downstream
 * of R — the Gram matrix, R·y, column sums, one column — reads it in row stripes of bounded
 * size, so the same code serves both and never holds a second copy of R.
 */

export interface RStore {
  readonly d: number;
  readonly c: number;
  /** 'memory', or the path of the file R is in */
  readonly location: string;
  /** the row-major array when in memory */
  readonly array?: Float64Array | Float32Array;
  /**
   * rows [i0, i0 + n) as a row-major n×c array: a view of R in memory; from a file, a buffer the
   * store reuses, valid until its next `rows` call (stripes are read one after another)
   */
  rows(i0: number, n: number): Float64Array | Float32Array;
  /** column j (length d) */
  column(j: number): Float64Array | Float32Array;
  /**
   * write column j as values · scale; returns the sum and absolute sum of the column as stored, so
   * R's column sums (conservation, the ℓ1 norm, its zero columns) cost no pass over R
   */
  writeColumn(j: number, values: ArrayLike<number>, scale: number): ColumnSums;
  /** a store outside memory: its content as .npy bytes (float32, Fortran order), in pieces */
  npyChunks?(): Iterable<Uint8Array>;
  /** give back its memory reservation / delete its file; R cannot be read afterwards */
  release(): void;
}

/** Σ_i R_ij and Σ_i |R_ij| of one column */
export interface ColumnSums {
  sum: number;
  abs: number;
}

/** The store of an R given as a row-major array, or the store itself */
export function asStore(R: Float64Array | Float32Array | RStore, d: number, c: number): RStore {
  return 'rows' in R ? R : memoryStore(R, d, c);
}

/** Makes a store for a d×c R outside memory (Node: a temporary file) */
export type Spill = (d: number, c: number) => RStore;

let defaultSpill: Spill | undefined;
/**
 * Where R goes when it does not fit the memory budget and the caller names no `spill`: the Node
 * entry points (api/node.ts, the CLI's --spill-dir) register a temporary file; browsers have none.
 */
export function setDefaultSpill(spill: Spill | undefined): void {
  defaultSpill = spill;
}
export const getDefaultSpill = (): Spill | undefined => defaultSpill;

/** stripes of about this many bytes (float64 rows): small next to any budget, large enough to stream */
export const STRIPE_BYTES = 32 * 1024 ** 2;

/** R in memory, row-major; `onRelease` gives back its memory reservation */
export function memoryStore(
  R: Float64Array | Float32Array,
  d: number,
  c: number,
  onRelease?: () => void,
): RStore {
  let released = false;
  const live = () => {
    if (released) throw new Error('R was released');
  };
  return {
    d,
    c,
    location: 'memory',
    array: R,
    rows(i0, n) {
      live();
      return R.subarray(i0 * c, (i0 + n) * c);
    },
    column(j) {
      live();
      const out = new Float64Array(d);
      for (let i = 0; i < d; i++) out[i] = R[i * c + j];
      return out;
    },
    writeColumn(j, values, scale) {
      live();
      let sum = 0;
      let abs = 0;
      for (let i = 0; i < d; i++) {
        const v = values[i] * scale;
        R[i * c + j] = v;
        sum += R[i * c + j];
        abs += Math.abs(R[i * c + j]);
      }
      return { sum, abs };
    },
    release() {
      if (!released) onRelease?.();
      released = true;
    },
  };
}

/** Row stripes [i0, i0 + n) covering R, each read once */
export function* stripes(
  store: RStore,
  bytes = STRIPE_BYTES,
): Generator<{ i0: number; n: number; rows: Float64Array | Float32Array }> {
  const step = Math.max(1, Math.floor(bytes / (8 * Math.max(1, store.c))));
  for (let i0 = 0; i0 < store.d; i0 += step) {
    const n = Math.min(step, store.d - i0);
    yield { i0, n, rows: store.rows(i0, n) };
  }
}

/** Σ_i R_ik (or Σ_i |R_ik|) per column */
export function columnSumsOf(store: RStore, abs = false, bytes = STRIPE_BYTES): number[] {
  const s = new Array<number>(store.c).fill(0);
  const c = store.c;
  for (const { n, rows } of stripes(store, bytes))
    for (let i = 0; i < n; i++)
      for (let k = 0; k < c; k++) s[k] += abs ? Math.abs(rows[i * c + k]) : rows[i * c + k];
  return s;
}

/** R·y for several y (each of length c) in one pass over R */
export function applyMany(store: RStore, ys: ArrayLike<number>[], bytes = STRIPE_BYTES): Float64Array[] {
  const { c, d } = store;
  for (const y of ys)
    if (y.length !== c) throw new Error(`a vector of ${y.length} entries cannot multiply R's ${c} columns`);
  const out = ys.map(() => new Float64Array(d));
  for (const { i0, n, rows } of stripes(store, bytes))
    for (let i = 0; i < n; i++)
      ys.forEach((y, q) => {
        let s = 0;
        for (let k = 0; k < c; k++) s += rows[i * c + k] * y[k];
        out[q][i0 + i] = s;
      });
  return out;
}
