/** Options shared by the commands: model, method, runtime. Parsing errors name the option. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { readNpyFile } from '../io/files.js';
import { asFloat32 } from '../io/npy.js';
import type { MethodSpec } from '../methods/factory.js';
import { defaultPreset } from '../methods/presets.js';
import { METHOD_NAMES, type MethodName } from '../methods/types.js';
import { type Model, truncateAt } from '../model/ir.js';
import { loadModelFile } from '../model/load-file.js';
import { NodeEngine } from '../runtime/node.js';
import { ModelRunner } from '../runtime/runner.js';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_MODEL = join(PACKAGE_ROOT, 'models', 'mnist-cnn.onnx');

export function num(name: string) {
  return (v: string): number => {
    const x = v === 'inf' || v === 'Infinity' ? Number.POSITIVE_INFINITY : Number(v);
    if (v.trim() === '' || Number.isNaN(x)) throw new Error(`${name} expects a number, got "${v}"`);
    return x;
  };
}

export function numList(name: string) {
  return (v: string): number[] => v.split(',').map((s) => num(name)(s.trim()));
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <file>', 'ONNX model (default: the shipped paper MNIST CNN)')
    .option('--output-layer <tensor>', 'explain a named intermediate tensor instead of the model output')
    .option(
      '--input-shape <C,H,W>',
      'per-sample input shape, for models with symbolic dims',
      numList('--input-shape'),
    )
    .option('--preprocess <preset>', 'mnist | imagenet | none (default: from the channel count)')
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider')
        .choices(['cpu', 'webgpu'])
        .default('cpu'),
    )
    .option('--threads <n>', 'intra-op threads', num('--threads'))
    .option('--memory-budget <GiB>', 'memory budget per run (default 1)', num('--memory-budget'));
}

function listable(
  name: string,
  lists: boolean | undefined,
  single: string,
  list: string,
  dflt: number,
): Option {
  if (lists) return new Option(`--${name} <v,...>`, list);
  return new Option(`--${name} <v>`, single).argParser(num(`--${name}`)).default(dflt);
}

/** Method options; with `lists` (sweeps) --gamma and --noise take comma-separated grids. */
export function addMethodOptions(cmd: Command, opts: { lists?: boolean } = {}): Command {
  return cmd
    .addOption(new Option('--method <name>', 'explanation method').choices(METHOD_NAMES).default('lrp'))
    .option(
      '--composite <name>',
      'LRP composite: mnist-paper | gamma-all | vgg16-paper | epsilon-gamma-box | selector=rule,...',
      'gamma-all',
    )
    .addOption(
      listable(
        'gamma',
        opts.lists,
        'LRP γ (inf allowed)',
        'LRP γ values to sweep, e.g. 0,0.001,0.01,inf',
        0.25,
      ),
    )
    .option('--low <v,...>', 'z^B lower bound(s) in model-input space', numList('--low'))
    .option('--high <v,...>', 'z^B upper bound(s) in model-input space', numList('--high'))
    .addOption(
      listable('noise', opts.lists, 'SmoothGrad noise level s', 'SmoothGrad noise levels to sweep', 0.1),
    )
    .option('--samples <n>', 'SmoothGrad samples / Shapley permutations', num('--samples'))
    .option(
      '--times-input <bool>',
      'SmoothGrad: multiply by the input (true) or mean gradient (false)',
      'true',
    )
    .option('--noise-file <EPS.npy>', 'SmoothGrad: explicit noise (n, C, H, W)')
    .option('--steps <m>', 'Integrated Gradients steps', num('--steps'), 10)
    .addOption(
      new Option('--rule <r>', 'Integrated Gradients rule')
        .choices(['right', 'left', 'middle', 'trapezoid'])
        .default('right'),
    )
    .option('--baseline <b>', 'IG/Shapley baseline: black | VALUE | B.npy', 'black')
    .option('--patch <p>', 'Shapley: square patches of p×p pixels as features', num('--patch'))
    .option('--feature-mask <M.npy>', 'Shapley: int32 (H, W) feature ids')
    .option('--perturbations-per-eval <n>', 'Shapley: forward batch size', num('--perturbations-per-eval'))
    .option('--seed <s>', 'seed of every random choice', num('--seed'), 0);
}

export interface ModelOpts {
  model?: string;
  outputLayer?: string;
  inputShape?: number[];
  preprocess?: string;
  provider: 'cpu' | 'webgpu';
  threads?: number;
  memoryBudget?: number;
}

export function openModel(o: ModelOpts): { model: Model; runner: ModelRunner; path: string; preset: string } {
  const path = o.model ?? DEFAULT_MODEL;
  if (!o.model && !existsSync(path))
    throw new Error(`the shipped model ${path} is missing; run "xspectra train mnist"`);
  let model = loadModelFile(path, o.inputShape);
  if (o.outputLayer) model = truncateAt(model, o.outputLayer);
  const engine = new NodeEngine({ provider: o.provider, intraOpNumThreads: o.threads });
  const runner = new ModelRunner(model, engine, {
    memoryBudget: o.memoryBudget ? o.memoryBudget * 1024 ** 3 : undefined,
  });
  return { model, runner, path, preset: o.preprocess ?? defaultPreset(model.inputShape) };
}

// biome-ignore lint/suspicious/noExplicitAny: commander option bag
export function methodSpec(o: any, presetName: string, inputShape: number[]): MethodSpec {
  const timesInput = String(o.timesInput).toLowerCase();
  if (!['true', 'false'].includes(timesInput))
    throw new Error(`--times-input expects true or false, got "${o.timesInput}"`);
  const spec: MethodSpec = {
    method: o.method as MethodName,
    preprocess: presetName,
    composite: o.composite,
    gamma: o.gamma,
    low: o.low,
    high: o.high,
    noise: o.noise,
    samples: o.samples ?? (o.method === 'shapley' ? 25 : 10),
    timesInput: timesInput === 'true',
    steps: o.steps,
    rule: o.rule,
    patch: o.patch,
    perturbationsPerEval: o.perturbationsPerEval,
    seed: o.seed,
    progress: o.method === 'shapley' ? delayedProgress('shapley') : undefined,
  };
  if (o.noiseFile) spec.noiseTensor = asFloat32(readNpyFile(o.noiseFile), o.noiseFile).data;
  if (o.baseline !== 'black') {
    if (String(o.baseline).toLowerCase().endsWith('.npy'))
      spec.baseline = asFloat32(readNpyFile(o.baseline), o.baseline).data;
    else spec.baseline = num('--baseline')(o.baseline);
  }
  if (o.featureMask) {
    const m = readNpyFile(o.featureMask);
    if (!(m.data instanceof Int32Array)) throw new Error(`${o.featureMask}: the feature mask must be int32`);
    const [, H, W] = inputShape;
    if (m.shape.join(',') !== `${H},${W}`)
      throw new Error(`${o.featureMask}: shape [${m.shape}], expected [${H},${W}]`);
    spec.featureMask = m.data;
  }
  return spec;
}

export function optionsRecord(spec: MethodSpec): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v === undefined || typeof v === 'function') continue;
    rec[k] = ArrayBuffer.isView(v) ? `<${(v as Float32Array).length} values>` : v;
  }
  return rec;
}

/** A progress callback that shows a bar only once the work has taken more than a second. */
export function delayedProgress(label: string): (done: number, total: number) => void {
  const start = Date.now();
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (!bar && Date.now() - start > 1000 && done < total && process.stderr.isTTY) {
      bar = new SingleBar({
        format: `${label} {bar} {value}/{total} | ETA {eta_formatted}`,
        stream: process.stderr,
      });
      bar.start(total, done);
    }
    bar?.update(done);
    if (bar && done >= total) {
      bar.stop();
      bar = undefined;
    }
  };
}
