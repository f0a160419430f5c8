/** Node-only: read an IDX file, gunzipping `.gz` files. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type IdxArray, IdxError, parseIdx } from './idx.js';

export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  } catch (e) {
    throw new IdxError(`cannot read IDX file ${path}: ${(e as Error).message}`);
  }
  return parseIdx(bytes, path);
}
