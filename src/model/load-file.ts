/** Node-only: load an ONNX model from a file, with its sha256 as identity. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type Model, ModelError, type Shape } from './ir.js';
import { parseModel } from './load.js';

function readModelBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ModelError(`cannot read model ${path}: ${(e as Error).message}`);
  }
}

/**
 * Reads external-data files relative to a directory (the model's, as ONNX Runtime resolves them);
 * what it read goes into the hash, so a changed data file is a different model.
 */
export function externalDataReader(dir: string, hash: ReturnType<typeof createHash>, read?: string[]) {
  return (location: string): Uint8Array => {
    const data = readFileSync(join(dir, location));
    hash.update(location).update(data);
    read?.push(location);
    return data;
  };
}

function loadFile(path: string, inputShape?: Shape) {
  const bytes = readModelBytes(path);
  const h = createHash('sha256').update(bytes);
  const external: string[] = [];
  const model = parseModel(bytes, {
    inputShape,
    source: path,
    externalData: externalDataReader(dirname(path), h, external),
  });
  model.hash = h.digest('hex');
  return { model, bytes, external };
}

/** The model of an ONNX file; external data is read next to it (ONNX Runtime's rule) */
export function loadModelFile(path: string, inputShape?: Shape): Model {
  return loadFile(path, inputShape).model;
}

/**
 * Our own validation (validate.ts, via the loader), then ONNX Runtime's session creation on the
 * ORIGINAL bytes: a model ONNX Runtime refuses is refused here with its message, even where our
 * loader would have built something from it.
 */
export async function loadModelFileChecked(path: string, inputShape?: Shape): Promise<Model> {
  const { model, bytes, external } = loadFile(path, inputShape);
  // from bytes, ONNX Runtime cannot find external data: give it the path, it resolves them itself
  await checkWithOnnxRuntime(external.length > 0 ? path : bytes, path);
  return model;
}

export async function checkWithOnnxRuntime(model: Uint8Array | string, path: string): Promise<void> {
  let session: ort.InferenceSession;
  try {
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      logSeverityLevel: 4,
    };
    session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, opts)
        : await ort.InferenceSession.create(model, opts);
  } catch (e) {
    const msg = String((e as Error).message ?? e)
      .split('\n')[0]
      .trim();
    throw new ModelError(`${path}: ONNX Runtime refuses the model: ${msg}`);
  }
  await session.release();
}
