/** Node-only entry points of the library: a model from a file or bytes, a runner on onnxruntime-node. */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spillToFile } from '../io/r-file.js';
import { type Model, type Shape, truncateAt } from '../model/ir.js';
import { parseModel } from '../model/load.js';
import { externalDataReader, loadModelFile } from '../model/load-file.js';
import { NodeEngine, type NodeEngineOptions } from '../runtime/node.js';
import { ModelRunner } from '../runtime/runner.js';
import { setDefaultSpill } from '../spectral/r-store.js';

// on Node, an R that does not fit the memory budget goes to a temporary file (io/r-file.ts)
setDefaultSpill(spillToFile());

/** the installed package's root (dist/api/ → ../..) */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** the shipped paper MNIST CNN (models/mnist-cnn.onnx) */
export const SHIPPED_MODEL = join(PACKAGE_ROOT, 'models', 'mnist-cnn.onnx');

export interface LoadModelOptions {
  /** per-sample input shape [C,H,W], for models with symbolic dims */
  inputShape?: Shape;
  /** explain a named intermediate tensor instead of the model output */
  outputLayer?: string;
  /** name used in error messages for bytes (default "model bytes") */
  source?: string;
  /** for bytes of a model with external data: the directory its `location`s are relative to */
  baseDir?: string;
}

/**
 * Parse and canonize an ONNX model from a path or its bytes (default: the shipped MNIST CNN);
 * `model.hash` is the bytes' sha256, `model.notes` what canonization changed.
 */
export function loadModel(source: string | Uint8Array = SHIPPED_MODEL, opts: LoadModelOptions = {}): Model {
  let model: Model;
  if (typeof source === 'string') model = loadModelFile(source, opts.inputShape);
  else {
    const h = createHash('sha256').update(source);
    model = parseModel(source, {
      inputShape: opts.inputShape,
      source: opts.source ?? 'model bytes',
      externalData: opts.baseDir ? externalDataReader(opts.baseDir, h) : undefined,
    });
    model.hash = h.digest('hex');
  }
  return opts.outputLayer ? truncateAt(model, opts.outputLayer) : model;
}

export interface RunnerCreateOptions extends NodeEngineOptions {
  /** bytes the whole process may use: runtime, weights, sessions, R, one run (default 4 GiB) */
  memoryBudget?: number;
}

/** A model bound to onnxruntime-node (CPU by default); call `release()` when done. */
export function createRunner(model: Model, opts: RunnerCreateOptions = {}): ModelRunner {
  const engine = new NodeEngine({ provider: opts.provider, intraOpNumThreads: opts.intraOpNumThreads });
  return new ModelRunner(model, engine, { memoryBudget: opts.memoryBudget });
}
