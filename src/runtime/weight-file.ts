/**
 * Node only: the file that holds a large graph's initializers as ONNX "external data"
 * (propagate/builder.ts, ExternalWeights), so that ONNX Runtime loads the graph from a path and
 * reads its weights by offset. Measured on VGG16's LRP pass graph (0.55 GB of weights, 2-core
 * machine): compiling the inline graph took 0.4 s (copying the weights into a fresh protobuf
 * buffer) and creating its session 1.2-1.4 s (parsing them back out); from a file, 0.5 s.
 *
 * Every graph of a model shares the weights: a buffer already written is referenced again, not
 * rewritten, unless a sample of its values changed since (training updates weights in place).
 * Offsets are page-aligned, so ONNX Runtime maps the data instead of copying it (measured: VGG16's
 * session then holds its weights as shared pages of the file, and the process's peak RSS at
 * session creation fell from 2.63 to 2.05 GiB). The folder lives in /dev/shm where it exists and
 * is removed at exit (and by `remove`; orphans of killed processes by the next one).
 */
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExternalWeights } from '../propagate/builder.js';

const PAGE = 4096;
const FILE = 'weights.bin';
/** values sampled to notice a buffer that changed after it was written */
const SAMPLES = 4096;

/**
 * Linux's /dev/shm (tmpfs) where it exists: writing VGG16's 0.55 GB there took 0.22 s against
 * 1.3 s to a new file on the disk-backed temporary folder, which cost more than it saved.
 */
function memoryBackedTmp(): string {
  return process.platform === 'linux' && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

const PREFIX = 'xspectra-weights-';

/**
 * A process killed by a signal does not run its exit handler, and a weight file in /dev/shm holds
 * memory until removed: every new weight file first removes those of processes that are gone
 * (the folder's name carries the owner's pid; ONNX Runtime refuses data behind a link to an
 * unlinked file, measured, so the file cannot simply be unlinked while in use).
 */
function removeOrphans(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = Number(name.startsWith(PREFIX) ? name.slice(PREFIX.length).split('-')[0] : Number.NaN);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists under another user
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Placed {
  offset: number;
  fingerprint: Uint8Array;
}

function fingerprint(data: Uint8Array): Uint8Array {
  const words = Math.floor(data.byteLength / 4);
  const out = new Uint8Array(4 * Math.min(SAMPLES, words));
  const step = words / (out.length / 4);
  for (let i = 0; i < out.length / 4; i++)
    out.set(data.subarray(4 * Math.floor(i * step), 4 * Math.floor(i * step) + 4), 4 * i);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export class WeightFile implements ExternalWeights {
  readonly dir: string;
  private fd: number | undefined;
  private size = 0;
  private graphs = 0;
  private readonly placed = new WeakMap<ArrayBufferLike, Map<string, Placed>>();
  private readonly cleanup = () => this.remove();

  constructor(
    readonly minBytes: number,
    parent = memoryBackedTmp(),
  ) {
    removeOrphans(parent);
    this.dir = mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
    process.once('exit', this.cleanup);
    this.fd = openSync(join(this.dir, FILE), 'w');
  }

  place(data: Uint8Array): { location: string; offset: number; length: number } {
    if (this.fd === undefined) throw new Error(`weight file ${this.dir} was removed`);
    const key = `${data.byteOffset}:${data.byteLength}`;
    let byView = this.placed.get(data.buffer);
    if (!byView) {
      byView = new Map();
      this.placed.set(data.buffer, byView);
    }
    const fp = fingerprint(data);
    const hit = byView.get(key);
    if (hit && same(hit.fingerprint, fp))
      return { location: FILE, offset: hit.offset, length: data.byteLength };
    const offset = Math.ceil(this.size / PAGE) * PAGE;
    for (let done = 0; done < data.byteLength; )
      done += writeSync(this.fd, data, done, data.byteLength - done, offset + done);
    this.size = offset + data.byteLength;
    byView.set(key, { offset, fingerprint: fp });
    return { location: FILE, offset, length: data.byteLength };
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
  }
}
