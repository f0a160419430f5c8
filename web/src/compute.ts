/**
 * The lab's computations, all on the platform-neutral core (src/): model from bytes, methods,
 * R and its spectrum (spectral/analyze.ts, the same call as `xspectra analyze`), pixel flipping
 * with Telea inpainting (OpenCV.js). Runs on onnxruntime-web through runtime/web.ts.
 * One ORT call at a time: a lock serialises the interactive update and the background curve.
 */
import { createMethod, type MethodSpec } from '../../src/methods/factory.js';
import { defaultPreset, type Preset, preset } from '../../src/methods/presets.js';
import { channelSum } from '../../src/metrics/entropy.js';
import { type PixelFlippingResult, pixelFlipping } from '../../src/metrics/pixel-flipping.js';
import type { Model } from '../../src/model/ir.js';
import { parseModel } from '../../src/model/load.js';
import { ModelRunner } from '../../src/runtime/runner.js';
import { type OrtWeb, sha256Hex, WebEngine, type WebProvider } from '../../src/runtime/web.js';
import { type Analysis, analyze } from '../../src/spectral/analyze.js';
import type { SpectralScores } from '../../src/spectral/scores.js';
import type { LabState } from './state.js';

/** Spectral components shown (as `xspectra analyze`'s default --components). */
export const COMPONENTS = 8;

class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const r = this.tail.then(f, f);
    this.tail = r.catch(() => undefined);
    return r;
  }
}

export class LabModel {
  private readonly lock = new Lock();
  readonly preset: Preset;

  private constructor(
    readonly model: Model,
    readonly runner: ModelRunner,
    readonly name: string,
    readonly provider: WebProvider,
  ) {
    this.preset = preset(defaultPreset(model.inputShape));
  }

  static async open(ort: OrtWeb, bytes: Uint8Array, name: string, provider: WebProvider): Promise<LabModel> {
    const model = parseModel(bytes, { hash: await sha256Hex(bytes), source: name });
    if (model.inputShape.length !== 3)
      throw new Error(
        `${name}: the lab needs an image classifier with a C×H×W input, not [${model.inputShape}]`,
      );
    // the whole tab (runtime/memory.ts): wasm32 has a 4 GB heap; a model too large for 2 GiB is
    // refused at once, naming what does not fit
    const runner = new ModelRunner(model, new WebEngine(ort, provider), { memoryBudget: 2 * 1024 ** 3 });
    return new LabModel(model, runner, name, provider);
  }

  get shape(): [number, number, number] {
    return this.model.inputShape as [number, number, number];
  }

  spec(s: LabState, override: Partial<LabState> = {}): MethodSpec {
    const v = { ...s, ...override };
    return {
      method: v.method,
      preprocess: this.preset.name,
      composite: v.composite,
      gamma: v.gamma,
      noise: v.noise,
      samples: v.samples,
      steps: v.steps,
      seed: v.seed,
    };
  }

  /** R, spectrum, scores and the decomposition of the predicted class (as `xspectra analyze`). */
  analyze(x: Float32Array, s: LabState, components = COMPONENTS): Promise<Analysis> {
    return this.lock.run(() =>
      analyze(createMethod(this.runner, this.spec(s)), x, {
        features: 'pixels',
        inactive: 'zero',
        components,
      }),
    );
  }

  /** Scores only, for one point of the live curve. */
  async scoresAt(x: Float32Array, s: LabState, override: Partial<LabState>): Promise<SpectralScores> {
    return this.lock.run(async () => {
      const a = await analyze(createMethod(this.runner, this.spec(s, override)), x, {
        features: 'pixels',
        inactive: 'zero',
      });
      return a.scores;
    });
  }

  /** Pixel flipping (Telea) of the predicted class's heat map. */
  pixelFlipping(x: Float32Array, a: Analysis): Promise<PixelFlippingResult> {
    const dc = a.decomposition;
    if (!dc) throw new Error('pixel flipping needs the decomposition of the predicted class');
    const [C] = this.shape;
    const h = a.matrix.featureShape.length === 3 ? channelSum(dc.explanation, C) : dc.explanation;
    return this.lock.run(() => pixelFlipping(this.runner, x, h, { target: dc.target, preset: this.preset }));
  }

  release(): Promise<void> {
    return this.lock.run(() => this.runner.release());
  }
}
