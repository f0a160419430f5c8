/**
 * R on disk (Node-only): when R does not fit what the memory budget leaves, its columns go to a
 * temporary float32 .npy file in Fortran (column-major) order — each column is one contiguous
 * write as its attributions arrive (they are float32 already), and the file is itself a valid
 * R.npy that NumPy and `readNpyFile` read, which `--save-matrix` streams to its target. Reads
 * come in row stripes (spectral/r-store.ts), so neither the Gram matrix nor R·y ever holds R.
 * The file is deleted by `release()`, when the store is garbage-collected, or when the process
 * exits.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RStore, Spill } from '../spectral/r-store.js';
import { writeFileAtomic, writeNpyFile } from './files.js';
import { npyHeader } from './npy.js';

const open = new Set<string>();
let exitHook = false;

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

const collected = new FinalizationRegistry<{ path: string; fd: number }>(({ path, fd }) => {
  if (!open.delete(path)) return;
  closeSync(fd);
  unlinkIfPresent(path);
});

/** A Spill that writes R to a temporary file in `dir` (default: the OS temp folder) */
export function spillToFile(dir = tmpdir()): Spill {
  return (d, c) => fileStore(dir, d, c);
}

const GB = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

export function fileStore(dir: string, d: number, c: number): RStore {
  const header = npyHeader('<f4', [d, c], true);
  const bytes = header.length + 4 * d * c;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(
      `R (${d}×${c}) must go to disk, but its folder ${dir} cannot be created: ${(e as Error).message}`,
    );
  }
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes)
    throw new Error(
      `R (${d}×${c}) needs ${GB(bytes)} on disk in ${dir}, which has ${GB(free)} free: choose another --spill-dir, raise --memory-budget or use --matrix-free`,
    );
  const path = join(dir, `xspectra-R-${process.pid}-${randomBytes(6).toString('hex')}.npy`);
  const fd = openSync(path, 'wx+', 0o600);
  open.add(path);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const p of open) unlinkIfPresent(p);
    });
  }
  writeSync(fd, header, 0, header.length, 0);
  ftruncateSync(fd, bytes); // sparse zeros: inactive outputs' columns cost nothing
  let released = false;
  const live = () => {
    if (released) throw new Error(`R was released (its file ${path} is gone)`);
  };
  const at = (j: number, i: number) => header.length + 4 * (j * d + i);
  // one stripe buffer and one column buffer, reused: a pass over a 1.2 GB R reads ≈ 40 stripes,
  // which need not become 33 MB of garbage each (the peak RSS of VGG16's spilled exact R did not
  // change measurably with it: 3.78 → 3.77 GiB; what sets that peak is the runs)
  let stripe = new Float32Array(0);
  let piece = new Float32Array(0);
  const written = new Float32Array(d); // writeColumn's buffer (writes are synchronous)
  const store = {
    d,
    c,
    location: path,
    rows(i0: number, n: number) {
      live();
      if (stripe.length < n * c) stripe = new Float32Array(n * c);
      if (piece.length < n) piece = new Float32Array(n);
      const out = stripe.subarray(0, n * c);
      const col = piece.subarray(0, n);
      for (let j = 0; j < c; j++) {
        const got = readSync(fd, col, 0, 4 * n, at(j, i0));
        if (got !== 4 * n) throw new Error(`${path}: short read (${got} of ${4 * n} bytes) in column ${j}`);
        for (let i = 0; i < n; i++) out[i * c + j] = col[i];
      }
      return out;
    },
    column(j: number) {
      live();
      const col = new Float32Array(d);
      const got = readSync(fd, col, 0, 4 * d, at(j, 0));
      if (got !== 4 * d) throw new Error(`${path}: short read (${got} of ${4 * d} bytes) in column ${j}`);
      return col;
    },
    writeColumn(j: number, values: ArrayLike<number>, scale: number) {
      live();
      let sum = 0;
      let abs = 0;
      for (let i = 0; i < d; i++) {
        written[i] = values[i] * scale;
        sum += written[i];
        abs += Math.abs(written[i]);
      }
      let off = 0;
      while (off < 4 * d) off += writeSync(fd, written, off, 4 * d - off, at(j, 0) + off);
      return { sum, abs };
    },
    /** the whole file (a Fortran-order float32 R.npy) in 16 MB pieces */
    *npyChunks(): Iterable<Uint8Array> {
      live();
      const buf = new Uint8Array(16 * 1024 ** 2);
      for (let pos = 0; pos < bytes; ) {
        const got = readSync(fd, buf, 0, Math.min(buf.length, bytes - pos), pos);
        if (got <= 0) throw new Error(`${path}: short read at byte ${pos} of ${bytes}`);
        yield buf.subarray(0, got);
        pos += got;
      }
    },
    release() {
      if (released) return;
      released = true;
      collected.unregister(store);
      open.delete(path);
      closeSync(fd);
      unlinkIfPresent(path);
    },
  };
  collected.register(store, { path, fd }, store);
  return store;
}

/**
 * Save R as .npy (float32, d×c): row-major from memory; from disk, the file streamed as it is
 * (Fortran order, which NumPy and readNpyFile read as the same d×c array).
 */
export function saveMatrix(path: string, store: RStore): void {
  if (store.array) writeNpyFile(path, { shape: [store.d, store.c], data: Float32Array.from(store.array) });
  else if (store.npyChunks) writeFileAtomic(path, store.npyChunks());
  else throw new Error(`cannot save R from ${store.location}: the store cannot be read as .npy`);
}
