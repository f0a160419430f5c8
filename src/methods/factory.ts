/** Build any method from a plain specification (used by the CLI, sweeps and the browser lab). */
import type { MaxPoolRule } from '../propagate/maxpool-average.js';
import { presetComposite } from '../rules/composites.js';
import type { ModelRunner } from '../runtime/runner.js';
import { gradient, gradientTimesInput } from './gradient.js';
import { type IgRule, integratedGradients } from './integrated-gradients.js';
import { lrp } from './lrp.js';
import { channelImage, defaultPreset, pixelValue, preset } from './presets.js';
import { defaultFeatureMask, shapleySampling } from './shapley.js';
import { smoothGrad } from './smoothgrad.js';
import { METHOD_NAMES, type Method, type MethodName } from './types.js';

export interface MethodSpec {
  method: MethodName;
  /** preprocessing preset that defines "black" and the pixel box (default from the channel count) */
  preprocess?: string;
  // LRP
  composite?: string;
  gamma?: number;
  /** max-pool during relevance propagation: 'wta' (default) or 'average' */
  maxpoolRule?: MaxPoolRule;
  low?: number[];
  high?: number[];
  // SmoothGrad
  samples?: number;
  noise?: number;
  timesInput?: boolean;
  noiseTensor?: Float32Array;
  // IG
  steps?: number;
  rule?: IgRule;
  /** 'black', a constant, or a full input-shaped tensor */
  baseline?: 'black' | number | Float32Array;
  // Shapley
  patch?: number;
  featureMask?: Int32Array;
  perturbationsPerEval?: number;
  progress?: (done: number, total: number) => void;
  seed?: number;
}

export function createMethod(runner: ModelRunner, spec: MethodSpec): Method {
  const shape = runner.model.inputShape;
  const channels = shape.length === 3 ? shape[0] : 1;
  const pre = preset(spec.preprocess ?? defaultPreset(shape));
  const baselineOf = (): { tensor: Float32Array; label: string } => {
    const b = spec.baseline ?? 'black';
    if (b === 'black')
      return { tensor: channelImage(pixelValue(pre, 0, channels), shape), label: `black (${pre.name})` };
    if (typeof b === 'number') return { tensor: channelImage([b], shape), label: `constant ${b}` };
    return { tensor: b, label: 'tensor' };
  };
  switch (spec.method) {
    case 'gradient':
      return gradient(runner);
    case 'gi':
      return gradientTimesInput(runner);
    case 'lrp': {
      const bounds = {
        low: spec.low ?? pixelValue(pre, 0, channels),
        high: spec.high ?? pixelValue(pre, 1, channels),
      };
      return lrp(runner, presetComposite(spec.composite ?? 'gamma-all', spec.gamma ?? 0.25, bounds), {
        maxpoolRule: spec.maxpoolRule,
      });
    }
    case 'sg':
      return smoothGrad(runner, {
        samples: spec.samples,
        noise: spec.noise,
        timesInput: spec.timesInput,
        seed: spec.seed,
        noiseTensor: spec.noiseTensor,
      });
    case 'ig': {
      const b = baselineOf();
      return integratedGradients(runner, {
        steps: spec.steps,
        rule: spec.rule,
        baseline: b.tensor,
        baselineLabel: b.label,
      });
    }
    case 'shapley': {
      const b = baselineOf();
      const [H, W] = shape.length === 3 ? shape.slice(1) : [1, runner.inputSize];
      const dm = spec.featureMask
        ? { mask: spec.featureMask, label: 'user mask' }
        : defaultFeatureMask(H, W, spec.patch);
      return shapleySampling(runner, {
        samples: spec.samples,
        seed: spec.seed,
        baseline: b.tensor,
        baselineLabel: b.label,
        featureMask: dm.mask,
        maskLabel: dm.label,
        perturbationsPerEval: spec.perturbationsPerEval,
        progress: spec.progress,
      });
    }
    default:
      throw new Error(`unknown method "${spec.method}" (${METHOD_NAMES.join(', ')})`);
  }
}
