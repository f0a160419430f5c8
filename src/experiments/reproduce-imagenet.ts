/**
 * The paper's ImageNet experiment (section 4, DESIGN §1.8) as data: VGG16 with `imagenet`
 * preprocessing, LRP (vgg16-paper) over a γ grid, SmoothGrad×Input over noise levels, IG (10
 * steps, black baseline), optionally Shapley over patches; per (setting, image) the spectral
 * scores (exact, or matrix-free with certified bounds), PF-AUC (Telea radius 5 on the 8-bit
 * image, 5 % budget) and entropy, into the resumable SQLite store.
 *
 * Memory: the settings run one after another and each one's sessions are released before the
 * next one's are created (on VGG16 every session holds its own copy of the weights).
 */
import { createMethod } from '../methods/factory.js';
import { preset } from '../methods/presets.js';
import { argmax, type Method, oneHotSeeds } from '../methods/types.js';
import { channelSum, entropy } from '../metrics/entropy.js';
import { pixelFlipping } from '../metrics/pixel-flipping.js';
import type { ModelRunner } from '../runtime/runner.js';
import { analyze } from '../spectral/analyze.js';
import { estimateSpectrum, type MatrixFreeEstimate, type MatrixFreeStart } from '../spectral/matrix-free.js';
import { paperPoints } from './paper-protocol.js';
import { type ResultRow, type ResultStore, tensorHash } from './store.js';
import { paramsKey, predictedHeatmap, type SweepInput, type SweepPoint } from './sweep.js';

export type SpectraMode = 'exact' | 'matrix-free' | 'auto';

export interface ImagenetConfig {
  images: number;
  gammas: number[];
  noises: number[];
  sgSamples: number;
  igSteps: number;
  /** Shapley over square patches of this many pixels (0: left out, as in the paper) */
  shapleyPatch: number;
  shapleySamples: number;
  seed: number;
  spectra: SpectraMode;
  tolSigma1: number;
  tolFrobenius: number;
  block: number;
  /** how the matrix-free estimate starts */
  start: MatrixFreeStart;
}

export function imagenetConfig(quick: boolean, seed = 0): ImagenetConfig {
  const log = (a: number, b: number, n: number) =>
    Array.from({ length: n }, (_, i) => Number((10 ** (a + (i * (b - a)) / (n - 1))).toPrecision(6)));
  const common = {
    sgSamples: 10,
    igSteps: 10,
    shapleyPatch: 0,
    shapleySamples: 25,
    seed,
    spectra: 'auto' as SpectraMode,
    tolSigma1: 1e-2,
    tolFrobenius: 2e-2,
    block: 8,
    start: 'columns' as MatrixFreeStart,
  };
  return quick
    ? { ...common, images: 5, gammas: [0, 0.1, 1, Number.POSITIVE_INFINITY], noises: [0.1, 0.3] }
    : {
        ...common,
        images: 100,
        gammas: [0, ...log(-3, 2, 11), Number.POSITIVE_INFINITY],
        noises: [0.02, 0.05, 0.1, 0.2, 0.3, 0.5],
      };
}

export function imagenetPoints(cfg: ImagenetConfig): SweepPoint[] {
  return paperPoints({
    preprocess: 'imagenet',
    seed: cfg.seed,
    lrp: { composite: 'vgg16-paper' },
    gammas: cfg.gammas,
    noises: cfg.noises,
    sgSamples: cfg.sgSamples,
    igSteps: cfg.igSteps,
    shapley: cfg.shapleyPatch > 0 ? { samples: cfg.shapleySamples, patch: cfg.shapleyPatch } : undefined,
  });
}

/** Exact R or the matrix-free estimate for one method and output count */
export function spectraFor(mode: SpectraMode, method: Method, cfg: ImagenetConfig): 'exact' | 'matrix-free' {
  // Shapley has no transposed pass, and all its columns come from the same forward passes
  if (method.name === 'shapley' || mode === 'exact') return 'exact';
  if (mode === 'matrix-free') return 'matrix-free';
  // auto: the estimator is exact anyway once its block reaches c; then take the full spectrum
  return 2 * cfg.block >= method.runner.outputSize ? 'exact' : 'matrix-free';
}

export interface ImagenetRunOptions {
  runner: ModelRunner;
  inputs: SweepInput[];
  cfg: ImagenetConfig;
  store: ResultStore;
  shard?: { index: number; count: number };
  onProgress?: (done: number, total: number, skipped: number) => void;
}

/** The store key of a setting: the method parameters plus how the spectrum is obtained */
export function imagenetParamsKey(point: SweepPoint, spectra: string, cfg: ImagenetConfig): string {
  const rec = JSON.parse(paramsKey(point, 'pixels', 'zero'));
  rec.spectra = spectra;
  if (spectra === 'matrix-free') {
    rec.tolSigma1 = cfg.tolSigma1;
    rec.tolFrobenius = cfg.tolFrobenius;
    rec.block = cfg.block;
    rec.start = cfg.start;
  }
  return JSON.stringify(Object.fromEntries(Object.entries(rec).sort(([a], [b]) => a.localeCompare(b))));
}

type RowFields = Omit<
  ResultRow,
  'modelHash' | 'inputHash' | 'inputId' | 'method' | 'params' | 'seed' | 'paramName' | 'paramValue'
>;

/** What the pass session gives one (setting, image) row: the spectral scores and the predicted class's heat map */
export interface ImagenetSpectra {
  heat: Float64Array;
  predicted: number;
  scores: Pick<
    ResultRow,
    'sigma1' | 'stability' | 'sensitivity' | 'ssm' | 'effectiveRank' | 'l1Norm' | 'singularValues' | 'spectra'
  >;
}

/** The spectral scores (exact, or the matrix-free estimate) and the predicted class's heat map */
export async function imagenetSpectra(
  method: Method,
  inp: SweepInput,
  spectra: 'exact' | 'matrix-free',
  cfg: ImagenetConfig,
): Promise<ImagenetSpectra> {
  const runner = method.runner;
  if (spectra === 'exact') {
    const a = await analyze(method, inp.x, { features: 'pixels', inactive: 'zero' });
    const heat = await predictedHeatmap(a, method, inp.x);
    a.matrix.store.release();
    return {
      heat,
      predicted: a.predicted,
      scores: { ...a.scores, singularValues: JSON.stringify(a.svd.singularValues), spectra: null },
    };
  }
  const e = await estimateSpectrum(method, inp.x, {
    features: 'pixels',
    inactive: 'zero',
    block: cfg.block,
    start: cfg.start,
    tolSigma1: cfg.tolSigma1,
    tolFrobenius: cfg.tolFrobenius,
    seed: cfg.seed,
  });
  const predicted = argmax(e.outputs);
  const { seeds, K } = oneHotSeeds(runner.outputSize, [predicted]);
  const shape = runner.model.inputShape;
  return {
    heat: channelSum((await method.attribute(inp.x, seeds, K)).attributions, shape[0]),
    predicted,
    scores: {
      sigma1: e.sigma1,
      stability: 1 / e.sigma1,
      sensitivity: e.frobenius,
      ssm: e.ssm,
      effectiveRank: null,
      l1Norm: null,
      singularValues: JSON.stringify(e.exact ? e.ritzValues : []),
      spectra: JSON.stringify(spectraRecord(e)),
    },
  };
}

/** The row from its spectral part: PF-AUC (forward passes only) and entropy of the heat map */
export async function imagenetRowFrom(
  runner: ModelRunner,
  inp: SweepInput,
  part: ImagenetSpectra,
): Promise<RowFields> {
  const pf = await pixelFlipping(runner, inp.x, part.heat, {
    preset: preset('imagenet'),
    target: part.predicted,
  });
  return {
    label: inp.label ?? null,
    predicted: part.predicted,
    ...part.scores,
    pfAuc: pf.auc,
    pfAucNorm: pf.aucNorm,
    entropy: entropy(part.heat),
  };
}

/** One (setting, image) row: spectral scores, PF-AUC and entropy of the predicted class */
export async function imagenetRow(
  method: Method,
  inp: SweepInput,
  spectra: 'exact' | 'matrix-free',
  cfg: ImagenetConfig,
): Promise<RowFields> {
  return imagenetRowFrom(method.runner, inp, await imagenetSpectra(method, inp, spectra, cfg));
}

/** What a matrix-free row records about its estimate */
export function spectraRecord(e: MatrixFreeEstimate) {
  return {
    mode: 'matrix-free',
    exact: e.exact,
    certified: e.certified,
    sigma1Bounds: e.sigma1Bounds,
    frobeniusBounds: e.frobeniusBounds,
    ssmBounds: e.ssmBounds,
    ritzValues: e.ritzValues,
    stage: e.stage,
    columns: e.columns,
    iterations: e.iterations,
    probes: e.probesUsed,
    backwardSeeds: e.backwardSeeds,
    forwardModeTangents: e.forwardModeTangents,
    backwardRows: e.backwardRows,
    forwardModeRows: e.forwardModeRows,
  };
}

/**
 * Images per chunk. Large models (combined pass sessions, e.g. VGG16) hold one session at the
 * default budget, and pixel flipping's 21 forward passes through the live pass session cost 2.5×
 * a plain forward session's (ONNX Runtime runs every node of a session): so a chunk's spectra and
 * heat maps run on the pass session, which is then released for a forward session that flips
 * the chunk's pixels; the pass session is made again for the next chunk (≈ 1 s with the weight
 * file, against ≈ 6 s saved per VGG16 LRP row). A crash loses at most a chunk's spectra.
 */
export const PF_CHUNK = 8;

/** The pass key a method's sessions are cached under (to keep them for the next setting) */
function passKeyOf(m: Method): string {
  return m.linearPass?.key ?? (m.name === 'sg' || m.name === 'ig' ? 'gradient' : m.name);
}

export async function runImagenet(o: ImagenetRunOptions): Promise<{ computed: number; skipped: number }> {
  const { runner, inputs, cfg, store } = o;
  const shard = o.shard ?? { index: 0, count: 1 };
  if (!(Number.isInteger(shard.count) && shard.count >= 1 && shard.index >= 0 && shard.index < shard.count))
    throw new Error(`shard ${shard.index}/${shard.count}: need 0 ≤ index < count`);
  const points = imagenetPoints(cfg);
  const mine = (pair: number) => pair % shard.count === shard.index;
  const total = Array.from({ length: points.length * inputs.length }, (_, i) => i).filter(mine).length;
  let done = 0;
  let skipped = 0;
  let computed = 0;
  const methods = points.map((p) => createMethod(runner, p.spec));
  const hashes = inputs.map((inp) => tensorHash(inp.x));
  for (const [pi, point] of points.entries()) {
    const method = methods[pi];
    const spectra = spectraFor(cfg.spectra, method, cfg);
    const params = imagenetParamsKey(point, spectra, cfg);
    const seed = point.spec.seed ?? 0;
    const pending: number[] = [];
    for (const [ii] of inputs.entries()) {
      if (!mine(pi * inputs.length + ii)) continue;
      if (store.has(runner.model.hash, hashes[ii], method.name, params, seed)) {
        skipped++;
        done++;
        o.onProgress?.(done, total, skipped);
      } else pending.push(ii);
    }
    // in chunks: the spectra and heat maps of a few images on the pass session, then their pixel
    // flipping (see PF_CHUNK)
    for (let c0 = 0; c0 < pending.length; c0 += PF_CHUNK) {
      const chunk = pending.slice(c0, c0 + PF_CHUNK);
      const parts: ImagenetSpectra[] = [];
      for (const ii of chunk) parts.push(await imagenetSpectra(method, inputs[ii], spectra, cfg));
      await runner.makeRoomForForward();
      for (const [j, ii] of chunk.entries()) {
        const inp = inputs[ii];
        const row = await imagenetRowFrom(runner, inp, parts[j]);
        store.insert({
          modelHash: runner.model.hash,
          inputHash: hashes[ii],
          inputId: inp.id,
          method: method.name,
          params,
          seed,
          paramName: point.paramName,
          paramValue: point.paramValue,
          ...row,
        });
        computed++;
        done++;
        o.onProgress?.(done, total, skipped);
      }
    }
    // free this setting's sessions (LRP: one pair per γ) before the next setting creates its own
    const next = methods[pi + 1];
    await runner.releaseExcept(next ? ['forward', passKeyOf(next)] : ['forward']);
  }
  return { computed, skipped };
}
