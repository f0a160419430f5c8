/** One call from a method and an input to R, its spectrum, scores and decomposition. */
import { argmax, type Method } from '../methods/types.js';
import { type Decomposition, decompose, readout } from './decompose.js';
import { gramOnEngine } from './gram-ort.js';
import {
  type RedistributionMatrix,
  type RedistributionOptions,
  redistributionMatrix,
} from './redistribution.js';
import { type SpectralScores, scoresFromSpectrum } from './scores.js';
import { type GramFn, type Svd, storeSvd } from './svd.js';

/** d·c² above which the Gram matrix runs on the engine (VGG16: 5·10¹⁰; the MNIST CNN: 8·10⁴) */
export const GRAM_ON_ENGINE_ABOVE = 1e9;

export interface AnalysisOptions extends RedistributionOptions {
  /** number of spectral components of the decomposition (0: none) */
  components?: number;
  /** class to decompose (default: the predicted class), optionally against another */
  target?: number;
  against?: number;
  gram?: GramFn;
}

export interface Analysis {
  matrix: RedistributionMatrix;
  svd: Svd;
  scores: SpectralScores;
  predicted: number;
  decomposition?: Decomposition & { target: number; against?: number };
  timing: { attributionMs: number; spectrumMs: number };
}

export async function analyze(
  method: Method,
  x: Float32Array,
  opts: AnalysisOptions = {},
): Promise<Analysis> {
  const t0 = performance.now();
  const matrix = await redistributionMatrix(method, x, opts);
  // large Gram matrices on ONNX Runtime's multi-threaded float64 MatMul (CPU provider; the GPU
  // providers have no float64), small ones in JavaScript
  const engine = method.runner.engine;
  const big = matrix.d * matrix.c ** 2 > GRAM_ON_ENGINE_ABOVE && engine.provider === 'cpu';
  let a: Awaited<ReturnType<typeof analyzeMatrix>>;
  try {
    a = await analyzeMatrix(matrix, { ...opts, gram: opts.gram ?? (big ? gramOnEngine(engine) : undefined) });
  } catch (e) {
    matrix.store.release();
    throw e;
  }
  return {
    ...a,
    timing: { attributionMs: performance.now() - t0 - a.timing.spectrumMs, spectrumMs: a.timing.spectrumMs },
  };
}

/** Spectrum, scores and decomposition of an R already built (e.g. one of several column choices) */
export async function analyzeMatrix(
  matrix: RedistributionMatrix,
  opts: Pick<AnalysisOptions, 'components' | 'target' | 'against' | 'gram'> = {},
): Promise<Analysis> {
  const t1 = performance.now();
  // R is read in stripes wherever it is (r-store.ts): memory, or a file when it did not fit
  const svd = await storeSvd(matrix.store, opts.gram, undefined, matrix.columnAbsSums);
  const scores = scoresFromSpectrum(svd.singularValues, Math.max(0, ...matrix.columnAbsSums));
  for (const [k, v] of Object.entries(scores)) {
    if (Number.isNaN(v))
      throw new Error(`score ${k} is NaN (R has no non-zero singular value: all outputs inactive?)`);
  }
  const predicted = argmax(matrix.outputs);
  let decomposition: Analysis['decomposition'];
  const m = opts.components ?? 0;
  if (m > 0) {
    const target = opts.target ?? predicted;
    const y = readout(matrix.outputs, matrix.columns, target, opts.against);
    decomposition = { ...decompose(matrix.store, svd, y, m), target, against: opts.against };
  }
  const t2 = performance.now();
  return {
    matrix,
    svd,
    scores,
    predicted,
    decomposition,
    timing: { attributionMs: 0, spectrumMs: t2 - t1 },
  };
}

/** The per-input fields of `analyze --json` (also in the browser lab's export). */
export function resultJson(a: Analysis, input: string, label?: number): Record<string, unknown> {
  return {
    input,
    label,
    predicted: a.predicted,
    outputs: a.matrix.outputs,
    scores: a.scores,
    singularValues: a.svd.singularValues,
    columns: a.matrix.columns,
    inactiveOutputs: a.matrix.inactiveOutputs,
    features: a.matrix.features,
    d: a.matrix.d,
    /** where R was held: in memory, or on disk when it did not fit the memory budget */
    storage: a.matrix.store.location === 'memory' ? 'memory' : 'disk',
    conservation: a.matrix.conservation,
    diagnostics: a.matrix.diagnostics,
    decomposition: a.decomposition
      ? { target: a.decomposition.target, against: a.decomposition.against, weights: a.decomposition.weights }
      : undefined,
    timing: a.timing,
  };
}
