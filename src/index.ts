/**
 * xspectra as a library (Node): load a model, bind it to ONNX Runtime, build explanation methods,
 * attribute Captum-style, form the redistribution matrix R and analyse its spectrum, estimate
 * σ1 and ‖R‖_F without forming R, evaluate heat maps, and compute the LRP-γ bound.
 * Everything below is also reachable by deep import (`xspectra/dist/<folder>/<file>.js`).
 */

// methods and attributions
export {
  type AttributeOptions,
  type Attribution,
  type AttributionConvention,
  attribute,
  type Explainer,
  explainer,
} from './api/attribute.js';
// models and runtime
export {
  createRunner,
  type LoadModelOptions,
  loadModel,
  type RunnerCreateOptions,
  SHIPPED_MODEL,
} from './api/node.js';
// data and files
export { mnistTestDigit } from './data/mnist.js';
export { encodeNpy, type NpyArray, parseNpy } from './io/npy.js';
export { saveMatrix, spillToFile } from './io/r-file.js';
export { createMethod, type MethodSpec } from './methods/factory.js';
export { gradient, gradientTimesInput } from './methods/gradient.js';
export { integratedGradients } from './methods/integrated-gradients.js';
export { lrp } from './methods/lrp.js';
export { defaultFeatureMask, shapleySampling } from './methods/shapley.js';
export { smoothGrad } from './methods/smoothgrad.js';
export {
  argmax,
  type Explanation,
  METHOD_NAMES,
  type Method,
  type MethodName,
  oneHotSeeds,
} from './methods/types.js';
// metrics
export { channelSum, entropy } from './metrics/entropy.js';
export {
  flipOrder,
  type PixelFlippingOptions,
  type PixelFlippingResult,
  pixelFlipping,
} from './metrics/pixel-flipping.js';
export type { Model, Shape } from './model/ir.js';
export { truncateAt } from './model/ir.js';
export { parseModel } from './model/load.js';
export {
  assignRules,
  COMPOSITES,
  type Composite,
  customComposite,
  presetComposite,
  ruleTable,
} from './rules/composites.js';
export type { Engine, Session } from './runtime/engine.js';
export { DEFAULT_MEMORY_BUDGET, minimumBudget } from './runtime/memory.js';
export { NodeEngine } from './runtime/node.js';
export { ModelRunner } from './runtime/runner.js';
// the redistribution matrix and its spectrum
export { type Analysis, type AnalysisOptions, analyze } from './spectral/analyze.js';
export { gammaBound, type LayerBound, type NetworkBound } from './spectral/bound.js';
export { decompose, readout } from './spectral/decompose.js';
export {
  estimateSpectrum,
  MATRIX_FREE_STARTS,
  type MatrixFreeEstimate,
  type MatrixFreeOptions,
  type MatrixFreeStart,
  redistributionOperator,
} from './spectral/matrix-free.js';
// R in memory or on disk: read it in stripes, release it when done; choose where it spills
export { applyMany, columnSumsOf, type RStore, type Spill, setDefaultSpill } from './spectral/r-store.js';
export {
  columnSums,
  l1OperatorNorm,
  type RedistributionMatrix,
  type RedistributionOptions,
  redistributionMatrix,
} from './spectral/redistribution.js';
export { type SpectralScores, scoresFromSpectrum } from './spectral/scores.js';
export { type Svd, storeSvd, thinSvd } from './spectral/svd.js';
