/** `xspectra analyze`: R, spectrum, scores, decomposition and figures for one or more inputs. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { writeFileAtomic, writeNpyFile } from '../io/files.js';
import { createMethod } from '../methods/factory.js';
import { channelSum } from '../metrics/entropy.js';
import { greyOf, heatmapPng } from '../report/heatmap.js';
import { renderSvg, spectrumSpec } from '../report/plots.js';
import { type Analysis, analyze } from '../spectral/analyze.js';
import { estimateSpectrum } from '../spectral/matrix-free.js';
import { orthogonalityError } from '../spectral/svd.js';
import { addMethodOptions, addModelOptions, methodSpec, num, openModel, optionsRecord } from './common.js';
import { fmt, table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';

export const ANALYZE_SCHEMA = 'xspectra.analyze/1';

export function registerAnalyze(program: Command): void {
  const cmd = program
    .command('analyze')
    .description(
      'spectral analysis of an explanation method: R, singular values, stability, sensitivity, SSM',
    );
  addModelOptions(cmd);
  addMethodOptions(cmd);
  cmd
    .option('--input <x...>', 'mnist:N, mnist:test[:N], X.npy, or PNG/JPEG (several allowed)', ['mnist:0'])
    .addOption(
      new Option('--features <mode>', 'pixels (channel-summed) or elements')
        .choices(['pixels', 'elements'])
        .default('pixels'),
    )
    .addOption(
      new Option('--inactive <policy>', 'outputs with f_k ≤ 0')
        .choices(['zero', 'drop', 'keep'])
        .default('zero'),
    )
    .option('--components <m>', 'spectral components of the decomposition', num('--components'), 8)
    .option('--target <k>', 'class to decompose (default: predicted)', num('--target'))
    .option(
      '--against <l>',
      'decompose the log-likelihood ratio of --target against this class',
      num('--against'),
    )
    .option('--out <dir>', 'write heat maps (PNG), the spectrum (SVG) and analysis.json')
    .option('--save-matrix <R.npy>', 'save R (float32, d×c)')
    .option(
      '--matrix-free',
      'estimate σ1, ‖R‖_F and SSM from R·V and Rᵀ·U products without forming R, until the tolerances are certified (lrp, gradient, gi, sg, ig)',
    )
    .option('--block <b>', 'matrix-free: block size (b ≥ c gives exact results)', num('--block'), 8)
    .option('--iterations <t>', 'matrix-free: most subspace iterations', num('--iterations'), 30)
    .option('--probes <p>', 'matrix-free: Hutchinson probes per batch for ‖R‖_F', num('--probes'), 8)
    .option(
      '--tol-sigma1 <r>',
      'matrix-free: relative accuracy of σ1 to certify (Ritz residual)',
      num('--tol-sigma1'),
      1e-2,
    )
    .option(
      '--tol-frobenius <r>',
      'matrix-free: relative accuracy of ‖R‖_F to certify (Hutchinson standard error)',
      num('--tol-frobenius'),
      2e-2,
    )
    .option('--json', 'print JSON')
    .action(async (o) => {
      const { runner, model, path, preset } = openModel(o);
      const inputs = o.input.flatMap((s: string) => resolveInputs(s, model.inputShape, preset));
      const spec = methodSpec(o, preset, model.inputShape);
      const method = createMethod(runner, spec);
      const options = {
        ...optionsRecord(spec),
        ...method.options,
        features: o.features,
        inactive: o.inactive,
        outputLayer: o.outputLayer ?? null,
        components: o.components,
        model: path,
      };
      if (o.matrixFree) {
        const estimates = [];
        for (const inp of inputs) {
          const t0 = performance.now();
          const e = await estimateSpectrum(method, inp.x, {
            features: o.features,
            inactive: o.inactive,
            block: o.block,
            iterations: o.iterations,
            probes: o.probes,
            tolSigma1: o.tolSigma1,
            tolFrobenius: o.tolFrobenius,
            seed: spec.seed,
          });
          // the Ritz vectors are for decompositions, not for the JSON
          e.ritzVectors = undefined;
          estimates.push({ input: inp.id, estimate: e, timing: { ms: performance.now() - t0 } });
        }
        if (o.json)
          process.stdout.write(
            `${toJson({ schema: 'xspectra.analyze-matrix-free/1', model: { path, hash: model.hash }, options, seed: spec.seed, results: estimates })}\n`,
          );
        else {
          process.stdout.write(
            `${table(
              [
                'input',
                'sigma1',
                'sigma1 bounds',
                '‖R‖_F',
                '‖R‖_F bounds',
                'SSM',
                'exact',
                'certified',
                'seeds',
                'tangents',
              ],
              estimates.map((r) => [
                r.input,
                r.estimate.sigma1,
                r.estimate.sigma1Bounds.map((v) => fmt(v, 5)).join(' – '),
                r.estimate.frobenius,
                r.estimate.frobeniusBounds.map((v) => fmt(v, 5)).join(' – '),
                r.estimate.ssm,
                String(r.estimate.exact),
                `σ1 ${r.estimate.certified.sigma1 ? 'yes' : 'no'}, F ${r.estimate.certified.frobenius ? 'yes' : 'no'}`,
                r.estimate.backwardSeeds,
                r.estimate.forwardModeTangents,
              ]),
            )}\n`,
          );
        }
        await runner.release();
        return;
      }
      const results: Record<string, unknown>[] = [];
      const rows: (string | number)[][] = [];
      for (const [idx, inp] of inputs.entries()) {
        const a = await analyze(method, inp.x, {
          features: o.features,
          inactive: o.inactive,
          components: o.components,
          target: o.target,
          against: o.against,
        });
        const res = resultJson(a, inp.id, inp.label);
        results.push(res);
        rows.push([
          inp.id,
          a.predicted,
          a.scores.sigma1,
          a.scores.stability,
          a.scores.sensitivity,
          a.scores.ssm,
          a.scores.effectiveRank,
        ]);
        if (o.saveMatrix) {
          const file = inputs.length === 1 ? o.saveMatrix : o.saveMatrix.replace(/\.npy$/i, `.${idx}.npy`);
          writeNpyFile(file, { shape: [a.matrix.d, a.matrix.c], data: Float32Array.from(a.matrix.R) });
        }
        if (o.out) {
          const dir = inputs.length === 1 ? o.out : join(o.out, String(idx));
          await writeFigures(
            dir,
            a,
            inp.x,
            model.inputShape,
            `${method.name} ${JSON.stringify(method.options)}`,
          );
          const orth = orthogonalityError(a.matrix.R, a.svd, Math.min(a.svd.r, 16));
          writeFileAtomic(
            join(dir, 'analysis.json'),
            toJson({ schema: ANALYZE_SCHEMA, options, seed: spec.seed, ...res, orthogonality: orth }),
          );
        }
      }
      const doc =
        results.length === 1
          ? {
              schema: ANALYZE_SCHEMA,
              model: { path, hash: model.hash, notes: model.notes },
              options,
              seed: spec.seed,
              ...results[0],
            }
          : {
              schema: ANALYZE_SCHEMA,
              model: { path, hash: model.hash, notes: model.notes },
              options,
              seed: spec.seed,
              results,
            };
      if (o.json) process.stdout.write(`${toJson(doc)}\n`);
      else {
        const brief = Object.entries(method.options)
          .filter(([k]) => k !== 'rules')
          .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
          .join(' ');
        process.stdout.write(`${method.name} ${brief} on ${path}\n`);
        for (const n of model.notes) process.stdout.write(`note: ${n}\n`);
        process.stdout.write(
          `${table(['input', 'pred', 'sigma1', 'stability', 'sensitivity', 'SSM', 'eff.rank'], rows)}\n`,
        );
        if (results.length === 1) {
          const r = results[0] as { singularValues: number[] };
          process.stdout.write(`singular values: ${r.singularValues.map((s) => fmt(s, 4)).join(' ')}\n`);
        }
        if (o.out) process.stdout.write(`figures and analysis.json in ${o.out}\n`);
      }
      await runner.release();
    });
}

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
    conservation: a.matrix.conservation,
    diagnostics: a.matrix.diagnostics,
    decomposition: a.decomposition
      ? { target: a.decomposition.target, against: a.decomposition.against, weights: a.decomposition.weights }
      : undefined,
    timing: a.timing,
  };
}

async function writeFigures(
  dir: string,
  a: Analysis,
  x: Float32Array,
  shape: number[],
  title: string,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const fs = a.matrix.featureShape;
  if (fs.length >= 2) {
    const [H, W] = fs.slice(-2);
    const bg = greyOf(x, shape);
    const chan = (v: Float64Array) => (fs.length === 3 ? channelSum(v, fs[0]) : v);
    if (a.decomposition) {
      const dc = a.decomposition;
      writeFileSync(
        join(dir, `heatmap-class${dc.target}.png`),
        heatmapPng(chan(dc.explanation), H, W, { background: bg }),
      );
      for (const [i, c] of dc.components.entries()) {
        writeFileSync(join(dir, `component-${i + 1}.png`), heatmapPng(chan(c), H, W, { background: bg }));
      }
      writeFileSync(join(dir, 'remainder.png'), heatmapPng(chan(dc.remainder), H, W, { background: bg }));
    }
  }
  writeFileSync(join(dir, 'spectrum.svg'), await renderSvg(spectrumSpec(a.svd.singularValues, title)));
}
