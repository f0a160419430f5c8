/**
 * Node only: the file that holds large graphs' initializers as ONNX "external data"
 * (propagate/builder.ts, ExternalWeights), so that ONNX Runtime loads a graph from a path and
 * reads its weights by offset. Measured on VGG16's LRP pass graph (0.55 GB of weights, 2-core
 * machine): compiling the inline graph took 0.4 s (copying the weights into a fresh protobuf
 * buffer) and creating its session 1.2-1.4 s (parsing them back out); from a file, 0.5 s.
 *
 * One file per process and folder (`sharedWeightFile`), shared by every engine, and every graph
 * shares what is in it:
 * - a buffer under 16 MB is found again by its content (the constants a compile rebuilds, e.g.
 *   LRP's bound images, are new buffers every time);
 * - a larger one (a model's weights) by identity, verified against the file before it is
 *   referenced again, in 16 MB chunks (a weight edited in place, e.g. one channel zeroed, is
 *   written anew; ≈ 0.1 s for VGG16's 0.55 GB, only when a later graph reuses them).
 * Offsets are page-aligned, so ONNX Runtime maps the data instead of copying it (measured: VGG16's
 * session then holds its weights as shared pages of the file, and the process's peak RSS at
 * session creation fell from 2.63 to 2.05 GiB). The folder lives in /dev/shm where it exists and
 * is removed at exit (and by `remove`; orphans of killed processes by the next process).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../io/process-alive.js';
import type { ExternalWeights } from '../propagate/builder.js';

const PAGE = 4096;
const FILE = 'weights.bin';
const PREFIX = 'xspectra-weights-';
/** buffers below this size are found again by content, larger ones by identity (see the header) */
const BY_CONTENT_BELOW = 16 * 1024 ** 2;
const CHUNK = 16 * 1024 ** 2;

/**
 * Linux's /dev/shm (tmpfs) where it exists: writing VGG16's 0.55 GB there took 0.22 s against
 * 1.3 s to a new file on the disk-backed temporary folder, which cost more than it saved.
 */
function memoryBackedTmp(): string {
  return process.platform === 'linux' && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * A process killed by a signal does not run its exit handler, and a weight file in /dev/shm holds
 * memory until removed: every new weight file first removes this user's folders of processes that
 * are gone (the folder's name carries the owner's pid; ONNX Runtime refuses data behind a link to
 * an unlinked file, measured, so the file cannot simply be unlinked while in use).
 */
function removeOrphans(parent: string): void {
  const uid = process.getuid?.();
  for (const name of readdirSync(parent)) {
    const pid = Number(name.startsWith(PREFIX) ? name.slice(PREFIX.length).split('-')[0] : Number.NaN);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    const path = join(parent, name);
    try {
      if (uid !== undefined && statSync(path).uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // best effort on someone else's leftovers (vanished meanwhile, or not ours to remove): this
      // process's own file does not depend on it
    }
  }
}

export class WeightFile implements ExternalWeights {
  readonly dir: string;
  private fd: number | undefined;
  private size = 0;
  private graphs = 0;
  private scratch: Buffer | undefined;
  private readonly byContent = new Map<string, number>();
  private readonly byBuffer = new WeakMap<ArrayBufferLike, Map<string, number>>();
  private readonly cleanup = () => this.remove();

  constructor(
    readonly minBytes: number,
    parent = memoryBackedTmp(),
  ) {
    removeOrphans(parent);
    this.dir = mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
    process.once('exit', this.cleanup);
    this.fd = openSync(join(this.dir, FILE), 'w+');
  }

  place(data: Uint8Array): { location: string; offset: number; length: number } {
    const at = (offset: number) => ({ location: FILE, offset, length: data.byteLength });
    if (data.byteLength < BY_CONTENT_BELOW) {
      const key = `${data.byteLength}:${createHash('sha1').update(data).digest('hex')}`;
      const hit = this.byContent.get(key);
      if (hit !== undefined) return at(hit);
      const offset = this.append(data);
      this.byContent.set(key, offset);
      return at(offset);
    }
    let views = this.byBuffer.get(data.buffer);
    if (!views) {
      views = new Map();
      this.byBuffer.set(data.buffer, views);
    }
    const view = `${data.byteOffset}:${data.byteLength}`;
    const hit = views.get(view);
    if (hit !== undefined && this.holds(hit, data)) return at(hit);
    const offset = this.append(data);
    views.set(view, offset);
    return at(offset);
  }

  /** writes a graph that refers to this file next to it; returns its path */
  writeGraph(bytes: Uint8Array): string {
    const path = join(this.dir, `graph-${this.graphs++}.onnx`);
    writeFileSync(path, bytes);
    return path;
  }

  /** bytes written so far (page-aligned offsets included) */
  get bytes(): number {
    return this.size;
  }

  remove(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.cleanup);
    for (const [k, f] of shared) if (f === this) shared.delete(k);
  }

  private open(): number {
    if (this.fd === undefined) throw new Error(`weight file ${this.dir} was removed`);
    return this.fd;
  }

  /** appends at the next page boundary (regions already referenced never change) */
  private append(data: Uint8Array): number {
    const fd = this.open();
    const offset = Math.ceil(this.size / PAGE) * PAGE;
    for (let done = 0; done < data.byteLength; )
      done += writeSync(fd, data, done, data.byteLength - done, offset + done);
    this.size = offset + data.byteLength;
    return offset;
  }

  /** whether the file holds exactly these bytes at this offset */
  private holds(offset: number, data: Uint8Array): boolean {
    const fd = this.open();
    this.scratch ??= Buffer.allocUnsafe(CHUNK);
    const buf = this.scratch;
    for (let p = 0; p < data.byteLength; p += CHUNK) {
      const n = Math.min(CHUNK, data.byteLength - p);
      for (let got = 0; got < n; ) {
        const r = readSync(fd, buf, got, n - got, offset + p + got);
        if (r === 0) return false;
        got += r;
      }
      if (Buffer.compare(buf.subarray(0, n), data.subarray(p, p + n)) !== 0) return false;
    }
    return true;
  }
}

const shared = new Map<string, WeightFile>();

/** The process's weight file in this folder (default: /dev/shm on Linux), made on first use. */
export function sharedWeightFile(minBytes: number, parent = memoryBackedTmp()): WeightFile {
  const key = `${parent}\0${minBytes}`;
  let f = shared.get(key);
  if (!f) {
    f = new WeightFile(minBytes, parent);
    shared.set(key, f);
  }
  return f;
}
