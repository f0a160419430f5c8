/** `xspectra analyze`: R, spectrum, scores, decomposition and figures for one or more inputs. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { prepareOutput, writeFileAtomic } from '../io/files.js';
import { saveMatrix } from '../io/r-file.js';
import { createMethod } from '../methods/factory.js';
import { channelSum } from '../metrics/entropy.js';
import { greyOf, greyPng, heatmapPanelSvg, heatmapPng, maxAbs } from '../report/heatmap.js';
import { renderSvg, spectrumSpec } from '../report/plots.js';
import { type Analysis, analyze, resultJson } from '../spectral/analyze.js';
import { columnsLabel, isDefaultColumns } from '../spectral/columns.js';
import { estimateSpectrum, MATRIX_FREE_STARTS } from '../spectral/matrix-free.js';
import { orthogonalityError } from '../spectral/svd.js';
import {
  addMethodOptions,
  addModelOptions,
  budgetOf,
  columnsOption,
  methodSpec,
  modelRecord,
  num,
  openModel,
  optionsRecord,
} from './common.js';
import { fmt, table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { COUNT, guardStore, INDEX, POSITIVE } from './validate.js';

export const ANALYZE_SCHEMA = 'xspectra.analyze/1';
/** moved to spectral/analyze.ts (the browser lab exports the same fields); kept here for importers */
export { resultJson };

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
    .addOption(columnsOption())
    .option('--components <m>', 'spectral components of the decomposition', num('--components', INDEX), 8)
    .option('--target <k>', 'class to decompose (default: predicted)', num('--target', INDEX))
    .option(
      '--against <l>',
      'decompose the log-likelihood ratio of --target against this class',
      num('--against', INDEX),
    )
    .option('--out <dir>', 'write heat maps (PNG), the spectrum (SVG) and analysis.json')
    .option('--save-matrix <R.npy>', 'save R (float32, d×c)')
    .option(
      '--matrix-free',
      'estimate σ1, ‖R‖_F and SSM from R·V and Rᵀ·U products without forming R, until the tolerances are certified (lrp, gradient, gi, sg, ig)',
    )
    .option(
      '--block <b>',
      'matrix-free: block size and columns per round (2b ≥ c gives exact results)',
      num('--block', COUNT),
      8,
    )
    .addOption(
      new Option(
        '--mf-start <s>',
        'matrix-free: columns (the largest-weight columns of R exactly, then the subspace iteration if they do not carry R) or subspace (the subspace iteration only)',
      )
        .choices(MATRIX_FREE_STARTS)
        .default('columns'),
    )
    .option('--iterations <t>', 'matrix-free: most subspace iterations', num('--iterations', COUNT), 30)
    .option('--probes <p>', 'matrix-free: Hutchinson probes per batch for ‖R‖_F', num('--probes', COUNT), 4)
    .option(
      '--tol-sigma1 <r>',
      'matrix-free: relative accuracy of σ1 to certify (Ritz residual)',
      num('--tol-sigma1', POSITIVE),
      1e-2,
    )
    .option(
      '--tol-frobenius <r>',
      'matrix-free: relative accuracy of ‖R‖_F to certify (Hutchinson standard error)',
      num('--tol-frobenius', POSITIVE),
      2e-2,
    )
    .option('--json', 'print JSON')
    .action(async (o) => {
      if (o.out) prepareOutput(o.out, '--out', { folder: true });
      if (o.saveMatrix) prepareOutput(o.saveMatrix, '--save-matrix');
      const { runner, model, path, preset } = await openModel(o);
      const inputs = o.input.flatMap((s: string) => resolveInputs(s, model.inputShape, preset, budgetOf(o)));
      const spec = methodSpec(o, preset, model.inputShape);
      const method = createMethod(runner, spec);
      const options = {
        ...optionsRecord(spec),
        ...method.options,
        features: o.features,
        inactive: o.inactive,
        columns: columnsLabel(o.columns),
        outputLayer: o.outputLayer ?? null,
        components: o.components,
      };
      const modelRec = modelRecord(path, model);
      if (o.matrixFree) {
        if (!isDefaultColumns(o.columns))
          throw new Error(
            `--columns ${columnsLabel(o.columns)}: matrix-free estimates support the default columns (output) only`,
          );
        const estimates = [];
        for (const inp of inputs) {
          const t0 = performance.now();
          const e = await estimateSpectrum(method, inp.x, {
            features: o.features,
            inactive: o.inactive,
            block: o.block,
            start: o.mfStart,
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
            `${toJson({ schema: 'xspectra.analyze-matrix-free/1', model: modelRec, options, seed: spec.seed, results: estimates })}\n`,
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
                'stage',
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
                r.estimate.stage === 'columns' ? `columns (${r.estimate.columns.length})` : r.estimate.stage,
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
      const written: string[] = [];
      const rows: (string | number)[][] = [];
      for (const [idx, inp] of inputs.entries()) {
        const a = await analyze(method, inp.x, {
          features: o.features,
          inactive: o.inactive,
          columns: o.columns,
          components: o.components,
          target: o.target,
          against: o.against,
        });
        guardStore(`${inp.id}: the redistribution matrix R`, a.matrix.store);
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
        if (o.out) {
          const dir = inputs.length === 1 ? o.out : join(o.out, String(idx));
          const files = await writeFigures(
            dir,
            a,
            inp.x,
            model.inputShape,
            `${method.name} ${JSON.stringify(method.options)}`,
          );
          written.push(...files.map((f) => join(dir, f)), join(dir, 'analysis.json'));
          const orth = orthogonalityError(a.matrix.store, a.svd, Math.min(a.svd.r, 16));
          writeFileAtomic(
            join(dir, 'analysis.json'),
            toJson({
              schema: ANALYZE_SCHEMA,
              model: modelRec,
              options,
              seed: spec.seed,
              ...res,
              diagnostics: { ...(res.diagnostics as object), orthogonality: orth },
            }),
          );
        }
        // after the figures: --save-matrix may point into the --out folder
        if (o.saveMatrix) {
          const file = inputs.length === 1 ? o.saveMatrix : o.saveMatrix.replace(/\.npy$/i, `.${idx}.npy`);
          saveMatrix(file, a.matrix.store);
        }
        a.matrix.store.release();
      }
      const doc =
        results.length === 1
          ? {
              schema: ANALYZE_SCHEMA,
              model: modelRec,
              options,
              seed: spec.seed,
              ...results[0],
            }
          : {
              schema: ANALYZE_SCHEMA,
              model: modelRec,
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
        if (o.out) process.stdout.write(`wrote ${written.join(', ')}\n`);
      }
      await runner.release();
    });
}

/** Heat maps (PNG), the input, a panel with colour bars (SVG) and the spectrum; returns the files */
async function writeFigures(
  dir: string,
  a: Analysis,
  x: Float32Array,
  shape: number[],
  title: string,
): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, data: Buffer | string) => {
    writeFileAtomic(join(dir, name), data);
    files.push(name);
  };
  const fs = a.matrix.featureShape;
  const mask = a.matrix.groupMask;
  const imageShape = shape.length === 3 ? shape.slice(1) : [];
  // Shapley over groups: every pixel shows its group's value (Captum's convention)
  const toImage = (v: Float64Array): Float64Array | undefined => {
    if (mask) return Float64Array.from(mask, (g) => v[g]);
    if (fs.length === 3) return channelSum(v, fs[0]);
    return fs.length === 2 ? v : undefined;
  };
  if (imageShape.length === 2 && a.decomposition) {
    const [H, W] = imageShape;
    const bg = greyOf(x, shape);
    const dc = a.decomposition;
    const maps: { png: Buffer; title: string; limit: number }[] = [];
    const map = (name: string, label: string, v: Float64Array) => {
      const img = toImage(v);
      if (!img) return;
      const png = heatmapPng(img, H, W, { background: bg });
      put(name, png);
      maps.push({ png, title: label, limit: maxAbs(img) });
    };
    const input = greyPng(bg, H, W);
    put('input.png', input);
    map(`heatmap-class${dc.target}.png`, `class ${dc.target}`, dc.explanation);
    for (const [i, c] of dc.components.entries()) map(`component-${i + 1}.png`, `component ${i + 1}`, c);
    map('remainder.png', 'remainder', dc.remainder);
    put('heatmaps.svg', heatmapPanelSvg({ input: { png: input, title: 'input' }, maps, size: 140 }));
  }
  put('spectrum.svg', await renderSvg(spectrumSpec(a.svd.singularValues, title)));
  return files;
}
