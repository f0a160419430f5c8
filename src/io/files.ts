/** Node-only file helpers: atomic writes (write to a temp file, then rename) and NPY files. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { encodeNpy, type NpyArray, parseNpy } from './npy.js';

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function readNpyFile(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

export function writeNpyFile(path: string, arr: NpyArray): void {
  writeFileAtomic(path, encodeNpy(arr));
}
