/** Options shared by the commands: model, method, runtime. Parsing errors name the option. */
import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { SHIPPED_MODEL } from '../api/node.js';
import { readNpyFile } from '../io/files.js';
import { asFloat32 } from '../io/npy.js';
import { spillToFile } from '../io/r-file.js';
import type { MethodSpec } from '../methods/factory.js';
import { defaultPreset } from '../methods/presets.js';
import { METHOD_NAMES, type MethodName } from '../methods/types.js';
import { type Model, size, truncateAt } from '../model/ir.js';
import { loadModelFileChecked } from '../model/load-file.js';
import { MAXPOOL_RULES } from '../propagate/maxpool-average.js';
import { NodeEngine } from '../runtime/node.js';
import { DEFAULT_MEMORY_BUDGET, ModelRunner } from '../runtime/runner.js';
import { DEFAULT_COLUMNS, parseColumns } from '../spectral/columns.js';
import { setDefaultSpill } from '../spectral/r-store.js';
import { progress } from './progress.js';
import {
  COUNT,
  checkBudget,
  FINITE,
  GAMMA,
  NOISE,
  type NumberRule,
  numberListOption,
  numberOption,
  POSITIVE,
  SEED,
} from './validate.js';
import { warnPresetMismatch } from './warnings.js';

export const DEFAULT_MODEL = SHIPPED_MODEL;

/** Parser of a numeric option; the rule (validate.ts) gives its range, finiteness, integrality */
export function num(name: string, rule: NumberRule = FINITE) {
  return numberOption(name, rule);
}

export function numList(name: string, rule: NumberRule = FINITE) {
  return numberListOption(name, rule);
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <file>', 'ONNX model (default: the shipped paper MNIST CNN)')
    .option('--output-layer <tensor>', 'explain a named intermediate tensor instead of the model output')
    .option(
      '--input-shape <C,H,W>',
      'per-sample input shape, for models with symbolic dims',
      numList('--input-shape', COUNT),
    )
    .option('--preprocess <preset>', 'mnist | imagenet | none (default: from the channel count)')
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider')
        .choices(['cpu', 'webgpu'])
        .default('cpu'),
    )
    .option('--threads <n>', 'intra-op threads', num('--threads', COUNT))
    .option(
      '--memory-budget <GiB>',
      'memory the whole process may use: weights, sessions, R and one run (default 4); chunk sizes follow from it',
      num('--memory-budget', POSITIVE),
    )
    .option(
      '--spill-dir <dir>',
      'where R goes when it does not fit the memory budget (default: the temp folder)',
    );
}

function listable(
  name: string,
  lists: boolean | undefined,
  single: string,
  list: string,
  dflt: number,
  rule: NumberRule,
): Option {
  if (lists) return new Option(`--${name} <v,...>`, list);
  return new Option(`--${name} <v>`, single).argParser(num(`--${name}`, rule)).default(dflt);
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
        GAMMA,
      ),
    )
    .addOption(
      new Option(
        '--maxpool-rule <rule>',
        'LRP: max-pools route relevance to the arg-max (wta) or split it proportionally to the window inputs (average)',
      )
        .choices(MAXPOOL_RULES)
        .default('wta'),
    )
    .option('--low <v,...>', 'z^B lower bound(s) in model-input space', numList('--low'))
    .option('--high <v,...>', 'z^B upper bound(s) in model-input space', numList('--high'))
    .addOption(
      listable(
        'noise',
        opts.lists,
        'SmoothGrad noise level s',
        'SmoothGrad noise levels to sweep',
        0.1,
        NOISE,
      ),
    )
    .option('--samples <n>', 'SmoothGrad samples / Shapley permutations', num('--samples', COUNT))
    .option(
      '--times-input <bool>',
      'SmoothGrad: multiply by the input (true) or mean gradient (false)',
      'true',
    )
    .option('--noise-file <EPS.npy>', 'SmoothGrad: explicit noise (n, C, H, W)')
    .option('--steps <m>', 'Integrated Gradients steps', num('--steps', COUNT), 10)
    .addOption(
      new Option('--rule <r>', 'Integrated Gradients rule')
        .choices(['right', 'left', 'middle', 'trapezoid'])
        .default('right'),
    )
    .option('--baseline <b>', 'IG/Shapley baseline: black | VALUE | B.npy', 'black')
    .option('--patch <p>', 'Shapley: square patches of p×p pixels as features', num('--patch', COUNT))
    .option('--feature-mask <M.npy>', 'Shapley: int32 (H, W) feature ids')
    .option(
      '--perturbations-per-eval <n>',
      'Shapley: forward batch size',
      num('--perturbations-per-eval', COUNT),
    )
    .option('--seed <s>', 'seed of every random choice', num('--seed', SEED), 0);
}

/** `--columns`: which outputs become R's columns and their normalisation (spectral/columns.ts) */
export function columnsOption(): Option {
  return new Option(
    '--columns <choice>',
    'columns of R: output (E_k/f_k) | raw (E_k) | sum (E_k/Σ_i E_ik), optionally +top:N or +above:T (e.g. sum+top:3)',
  )
    .argParser(parseColumns)
    .default(DEFAULT_COLUMNS, 'output');
}

export interface ModelOpts {
  model?: string;
  outputLayer?: string;
  inputShape?: number[];
  preprocess?: string;
  provider: 'cpu' | 'webgpu';
  threads?: number;
  memoryBudget?: number;
  spillDir?: string;
}

export async function openModel(
  o: ModelOpts,
): Promise<{ model: Model; runner: ModelRunner; path: string; preset: string }> {
  const path = o.model ?? DEFAULT_MODEL;
  if (!o.model && !existsSync(path))
    throw new Error(`the shipped model ${path} is missing; run "xspectra train mnist"`);
  let model = await loadModelFileChecked(path, o.inputShape);
  if (o.outputLayer) model = truncateAt(model, o.outputLayer);
  if (o.spillDir) setDefaultSpill(spillToFile(o.spillDir));
  const engine = new NodeEngine({ provider: o.provider, intraOpNumThreads: o.threads });
  const runner = new ModelRunner(model, engine, {
    memoryBudget: budgetOf(o),
  });
  const preset = o.preprocess ?? defaultPreset(model.inputShape);
  warnPresetMismatch(model.inputShape, preset);
  return { model, runner, path, preset };
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
    maxpoolRule: o.method === 'lrp' ? o.maxpoolRule : undefined,
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
  const d = size(inputShape);
  const budget = budgetOf(o);
  // the method holds steps (IG) or samples (SG, Shapley) input-sized float32 copies at once
  if (spec.method === 'ig') checkBudget(`--steps ${spec.steps}`, spec.steps!, 4 * d, budget);
  if (spec.method === 'sg' || spec.method === 'shapley')
    checkBudget(`--samples ${spec.samples}`, spec.samples!, 4 * d, budget);
  if (o.noiseFile) {
    const eps = finiteTensor(o.noiseFile, '--noise-file');
    if (eps.length % d !== 0)
      throw new Error(`--noise-file ${o.noiseFile}: ${eps.length} values are not whole samples of ${d}`);
    spec.noiseTensor = eps;
  }
  if (o.baseline !== 'black') {
    if (String(o.baseline).toLowerCase().endsWith('.npy')) {
      spec.baseline = finiteTensor(o.baseline, '--baseline');
      if (spec.baseline.length !== d)
        throw new Error(`--baseline ${o.baseline}: ${spec.baseline.length} values, the input has ${d}`);
    } else spec.baseline = num('--baseline')(o.baseline);
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

/** The process's memory budget in bytes (--memory-budget GiB, default 4 GiB: runtime/memory.ts) */
export function budgetOf(o: { memoryBudget?: number }): number {
  return o.memoryBudget ? o.memoryBudget * 1024 ** 3 : DEFAULT_MEMORY_BUDGET;
}

/** A float tensor from an NPY file, refusing NaN/Inf (named by flag, file and index) */
function finiteTensor(file: string, flag: string): Float32Array {
  const a = asFloat32(readNpyFile(file), file).data;
  const bad = a.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${flag} ${file}: holds ${a[bad]} at flat index ${bad}`);
  return a;
}

/** The parameters each method reads from a MethodSpec: results record these and no others. */
const METHOD_KEYS: Record<MethodName, (keyof MethodSpec)[]> = {
  gradient: [],
  gi: [],
  lrp: ['composite', 'gamma', 'maxpoolRule', 'low', 'high'],
  sg: ['samples', 'noise', 'timesInput', 'noiseTensor'],
  ig: ['steps', 'rule', 'baseline'],
  shapley: ['samples', 'baseline', 'patch', 'featureMask', 'perturbationsPerEval'],
};

/** The method's own options (plus method, preprocessing and seed), arrays shown by their length. */
export function optionsRecord(spec: MethodSpec): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  for (const k of ['method', 'preprocess', ...METHOD_KEYS[spec.method], 'seed'] as (keyof MethodSpec)[]) {
    const v = spec[k];
    if (v === undefined || typeof v === 'function') continue;
    rec[k] = ArrayBuffer.isView(v) ? `<${(v as Float32Array).length} values>` : v;
  }
  return rec;
}

/** The `model` object of every JSON result: path, sha256 of the file, canonization notes. */
export function modelRecord(path: string, model: Model): { path: string; hash: string; notes: string[] } {
  return { path, hash: model.hash, notes: model.notes };
}

/** A progress callback for long method runs (Shapley): quiet for the first second. */
export function delayedProgress(label: string): (done: number, total: number) => void {
  const p = progress(label, { delayMs: 1000 });
  return (done, total) => p.update(done, total);
}
