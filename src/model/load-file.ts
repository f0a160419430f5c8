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
export function externalDataReader(dir: string, hash: ReturnType<typeof createHash>) {
  return (location: string): Uint8Array => {
    const data = readFileSync(join(dir, location));
    hash.update(location).update(data);
    return data;
  };
}

export function loadModelFile(path: string, inputShape?: Shape): Model {
  const bytes = readModelBytes(path);
  const h = createHash('sha256').update(bytes);
  const model = parseModel(bytes, {
    inputShape,
    source: path,
    externalData: externalDataReader(dirname(path), h),
  });
  model.hash = h.digest('hex');
  return model;
}

/**
 * Our own validation (validate.ts, via the loader), then ONNX Runtime's session creation on the
 * ORIGINAL bytes: a model ONNX Runtime refuses is refused here with its message, even where our
 * loader would have built something from it.
 */
export async function loadModelFileChecked(path: string, inputShape?: Shape): Promise<Model> {
  const model = loadModelFile(path, inputShape);
  await checkWithOnnxRuntime(readModelBytes(path), path);
  return model;
}

export async function checkWithOnnxRuntime(bytes: Uint8Array, path: string): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      logSeverityLevel: 4,
    });
  } catch (e) {
    const msg = String((e as Error).message ?? e)
      .split('\n')[0]
      .trim();
    throw new ModelError(`${path}: ONNX Runtime refuses the model: ${msg}`);
  }
  await session.release();
}
