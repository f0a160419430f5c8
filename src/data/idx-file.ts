/** Node-only: read an IDX file, gunzipping `.gz` files. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type IdxArray, parseIdx } from './idx.js';

export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  return parseIdx(bytes, path);
}
