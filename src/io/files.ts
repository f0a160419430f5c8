/**
 * Node-only file helpers. Outputs never leave a half-written or clobbered file behind:
 * - a regular file (or a new one) is written to a temp file in the same folder, fsynced and
 *   renamed over the target; the temp file is removed on every failure path;
 * - a symlink is followed, so the file it points to is replaced and the link stays a link;
 * - a character device (/dev/null, /dev/stdout) or a FIFO is written in place, as a shell
 *   redirection would; sockets and folders are refused.
 * `prepareOutput` checks an output location (creating missing parent folders) before any
 * computation, so an unwritable `--out` fails in a second, not after an hour of work.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { encodeNpy, type NpyArray, NpyError, parseNpy } from './npy.js';

/** An output location that cannot be written; the message names the path (and the flag). */
export class OutputError extends Error {}

/** The path a write to `path` lands on: symlinks followed (also dangling ones, up to 40 hops) */
export function resolveOutputPath(path: string): string {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return p; // missing: this is where the file will be created
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new OutputError(`${path}: too many levels of symbolic links`);
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^\w+: /, '')}` : String(err.message ?? err);
}

/** Create a file in `dir` and remove it again: the honest test of "can I write here" (root, read-only mounts) */
function probeFolder(dir: string, label: string): void {
  const probe = join(dir, `.xspectra-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    throw new OutputError(`${label}: cannot write in folder ${dir} (${why(e)})`);
  }
  unlinkSync(probe);
}

/**
 * Check before any computation that `path` can be written: missing parent folders are created;
 * a folder, a socket or an unwritable location is an error naming `flag` and the path.
 * With `folder`, `path` itself is the output folder (created if missing).
 */
export function prepareOutput(path: string, flag: string, opts: { folder?: boolean } = {}): void {
  const label = `${flag} ${path}`;
  if (opts.folder) {
    try {
      mkdirSync(path, { recursive: true });
    } catch (e) {
      throw new OutputError(`${label}: cannot create the folder (${why(e)})`);
    }
    if (!statSync(path).isDirectory()) throw new OutputError(`${label}: not a folder`);
    probeFolder(path, label);
    return;
  }
  const target = resolveOutputPath(path);
  const st = statOrUndefined(target);
  if (st?.isDirectory()) throw new OutputError(`${label}: is a folder, expected a file name`);
  if (st && !st.isFile() && !st.isCharacterDevice() && !st.isFIFO())
    throw new OutputError(`${label}: is neither a file, a device nor a FIFO; refusing to write to it`);
  if (st && !st.isFile()) {
    // devices and FIFOs are written in place; opening a FIFO here would block, so check the mode only
    return;
  }
  const dir = dirname(target);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new OutputError(`${label}: cannot create the folder ${dir} (${why(e)})`);
  }
  probeFolder(dir, label);
}

/** Write all of `data` to an open descriptor */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** Write `data` (bytes, text, or chunks of bytes, e.g. streamed from a large file) atomically */
export function writeFileAtomic(path: string, data: Uint8Array | string | Iterable<Uint8Array>): void {
  const chunks: Iterable<Uint8Array> =
    typeof data === 'string' ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
  const target = resolveOutputPath(path);
  const st = statOrUndefined(target);
  if (st?.isDirectory()) throw new OutputError(`cannot write ${path}: is a folder`);
  if (st && (st.isCharacterDevice() || st.isFIFO())) {
    // in place, as `> /dev/null` or a pipe reader expects (no rename over the device node)
    let fd: number | undefined;
    try {
      fd = openSync(target, 'w');
      for (const bytes of chunks) writeAll(fd, bytes);
    } catch (e) {
      throw new OutputError(`cannot write ${path}: ${why(e)}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return;
  }
  if (st && !st.isFile()) throw new OutputError(`cannot write ${path}: not a regular file, device or FIFO`);
  const tmp = join(
    dirname(target),
    `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', st ? st.mode & 0o7777 : 0o666);
    for (const bytes of chunks) writeAll(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the write error below is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // not created, or already renamed
    }
    throw new OutputError(`cannot write ${path}: ${why(e)}`);
  }
  // make the rename itself durable (best effort: not every file system lets a folder be fsynced)
  try {
    const dfd = openSync(dirname(target), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // durability of the folder entry is an optimisation, the data file is complete either way
  }
}

export function readNpyFile(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new NpyError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

export function writeNpyFile(path: string, arr: NpyArray): void {
  writeFileAtomic(path, encodeNpy(arr));
}
