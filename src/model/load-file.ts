/** Node-only: load an ONNX model from a file, with its sha256 as identity. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Model, Shape } from './ir.js';
import { parseModel } from './load.js';

export function loadModelFile(path: string, inputShape?: Shape): Model {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read model ${path}: ${(e as Error).message}`);
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  return parseModel(bytes, { hash, inputShape, source: path });
}
