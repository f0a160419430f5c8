/**
 * The report of `xspectra reproduce imagenet`: Table 1 analogue, figure-3-style score curves with
 * standard-error bands, figure-2-style heat maps over the photo with class names, a figure-5-style
 * spectral decomposition, and how each spectrum was obtained (exact or matrix-free: certified
 * bounds and passes). Every number shown is read from this run's store or computed here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { type Aggregate, aggregate, optimum, type ScoreName } from '../experiments/aggregate.js';
import { type ImagenetConfig, imagenetRow, spectraFor } from '../experiments/reproduce-imagenet.js';
import { type ResultRow, toCsv } from '../experiments/store.js';
import type { SweepInput } from '../experiments/sweep.js';
import { createMethod, type MethodSpec } from '../methods/factory.js';
import { PRESETS } from '../methods/presets.js';
import { oneHotSeeds } from '../methods/types.js';
import { channelSum } from '../metrics/entropy.js';
import type { ModelRunner } from '../runtime/runner.js';
import { analyze } from '../spectral/analyze.js';
import { estimateSpectrum } from '../spectral/matrix-free.js';
import { greyOf, heatmapPng } from './heatmap.js';
import { type Block, writeReport } from './report-page.js';
import { writeScoreCurves } from './score-curves.js';

const METHOD: Record<string, string> = {
  lrp: 'LRP (vgg16-paper)',
  sg: 'SmoothGrad×Input',
  ig: 'Integrated Gradients',
  shapley: 'Shapley sampling',
};
const f = (v: number | undefined | null, d = 4) =>
  v === undefined || v === null ? '–' : Number.isFinite(v) ? Number(v.toPrecision(d)).toString() : String(v);
const pm = (a: Aggregate, s: ScoreName) =>
  a.mean[s] === undefined ? '–' : `${f(a.mean[s])} ± ${f(a.se[s], 2)}`;
const param = (a: Aggregate) =>
  a.paramName === 'none' ? '–' : `${a.paramName === 'gamma' ? 'γ' : 's'} = ${f(a.paramValue)}`;

const aggRow = (a: Aggregate) => [
  METHOD[a.method],
  param(a),
  ...(['ssm', 'stability', 'sensitivity', 'pfAuc', 'entropy'] as ScoreName[]).map((sc) => pm(a, sc)),
  String(a.n),
];

export interface ImagenetReportContext {
  dir: string;
  rows: ResultRow[];
  cfg: ImagenetConfig;
  runner: ModelRunner;
  modelPath: string;
  imagesDir: string;
  inputs: SweepInput[];
  /** class name of every output, or undefined (then "class k") */
  classes?: string[];
  classesSource: string;
  seconds: number;
  quick: boolean;
}

/** The photo under a model input (ImageNet normalisation undone) as an RGB PNG */
function photoPng(x: Float32Array, shape: number[]): Buffer {
  const [, H, W] = shape;
  const p = PRESETS.imagenet;
  const scale = Math.max(1, Math.ceil(224 / Math.max(H, W)));
  const png = new PNG({ width: W * scale, height: H * scale });
  for (let y = 0; y < H * scale; y++)
    for (let xx = 0; xx < W * scale; xx++) {
      const q = Math.floor(y / scale) * W + Math.floor(xx / scale);
      const o = (y * W * scale + xx) * 4;
      for (let c = 0; c < 3; c++)
        png.data[o + c] = Math.min(
          255,
          Math.max(0, Math.round((x[c * H * W + q] * p.std[c] + p.mean[c]) * 255)),
        );
      png.data[o + 3] = 255;
    }
  return PNG.sync.write(png);
}

export async function writeImagenetReport(ctx: ImagenetReportContext): Promise<{ table1: Aggregate[] }> {
  const { dir, rows, cfg, runner } = ctx;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.csv'), toCsv(rows));
  const aggs = aggregate(rows);
  const n = new Set(rows.map((r) => r.inputId)).size;
  const className = (k: number) => ctx.classes?.[k] ?? `class ${k}`;
  const methods = ['lrp', 'sg', 'ig', 'shapley'].filter((m) => aggs.some((a) => a.method === m));
  const table1 = methods.map((m) => optimum(aggs, m, 'ssm')!);
  const [, H, W] = runner.model.inputShape;
  const settings = [
    `model: ${ctx.modelPath} (sha256 ${runner.model.hash.slice(0, 16)}…), ${runner.outputSize} outputs, input [${runner.model.inputShape}]`,
    `images: ${n} of ${ctx.imagesDir} (imagenet preprocessing: shorter side 256, centre crop, ImageNet mean/std); class names: ${ctx.classesSource}`,
    `LRP vgg16-paper (z^B first conv, γ on the other convs of blocks 1-3, ε = 1e-6 later and on dense layers), γ ∈ {${cfg.gammas.map((g) => f(g)).join(', ')}}`,
    `SmoothGrad×Input, n = ${cfg.sgSamples}, noise s ∈ {${cfg.noises.join(', ')}}, seed ${cfg.seed}`,
    `Integrated Gradients, ${cfg.igSteps} steps (right Riemann), black baseline`,
    cfg.shapleyPatch > 0
      ? `Shapley value sampling, ${cfg.shapleySamples} permutations over ${cfg.shapleyPatch}×${cfg.shapleyPatch} patches, black baseline, seed ${cfg.seed}`
      : 'Shapley: left out (as in the paper; --shapley --patch P adds it)',
    `spectra: ${cfg.spectra}${cfg.spectra === 'exact' ? '' : ` (matrix-free: block ${cfg.block}, certified σ1 to ${cfg.tolSigma1} and ‖R‖_F to ${cfg.tolFrobenius} relative)`}`,
    'R: pixel features (channel-summed), inactive outputs (f_k ≤ 0) set to zero; PF: 5 % of pixels in 20 steps, Telea radius 5 on the 8-bit image, logit of the predicted class',
    `wall time of the computation: ${ctx.seconds.toFixed(0)} s${ctx.quick ? ' (--quick)' : ''}`,
  ];
  const blocks: Block[] = [
    { kind: 'heading', text: 'Settings' },
    { kind: 'list', items: settings },
  ];
  blocks.push(
    { kind: 'heading', text: 'Table 1 (analogue): scores at the SSM-optimal parameter' },
    {
      kind: 'table',
      header: [
        'method',
        'parameter (SSM-optimal)',
        'SSM',
        'stability',
        'sensitivity',
        'PF-AUC',
        'entropy',
        'n',
      ],
      rows: table1.map(aggRow),
    },
    {
      kind: 'list',
      items: (['ssm', 'pfAuc', 'entropy'] as ScoreName[]).flatMap((s) =>
        ['lrp', 'sg']
          .filter((m) => methods.includes(m))
          .map((m) => {
            const best = optimum(aggs, m, s);
            const dirn = s === 'ssm' ? 'SSM (max)' : s === 'pfAuc' ? 'PF-AUC (min)' : 'entropy (min)';
            return `best ${m === 'lrp' ? 'γ' : 'noise'} by ${dirn}: ${best ? f(best.paramValue) : '–'}`;
          }),
      ),
    },
    { kind: 'heading', text: 'All parameters (mean ± standard error)' },
    {
      kind: 'table',
      header: ['method', 'parameter', 'SSM', 'stability', 'sensitivity', 'PF-AUC', 'entropy', 'n'],
      rows: aggs.map(aggRow),
    },
  );
  // how the spectra were obtained
  const mf = rows.filter((r) => r.spectra).map((r) => JSON.parse(r.spectra!));
  const exactRows = rows.length - mf.length;
  const meanOf = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  const spectraItems = [`${exactRows} rows from the exact R (thin SVD of all ${runner.outputSize} columns)`];
  if (mf.length) {
    const rel = (b: [number, number], mid: (x: [number, number]) => number) => (b[1] - b[0]) / 2 / mid(b);
    spectraItems.push(
      `${mf.length} rows matrix-free: ${mf.filter((e) => e.exact).length} of them exact (R formed: 2·block ≥ c, or an estimate would have cost half of R's passes); σ1 certified in ${mf.filter((e) => e.certified.sigma1).length}, ‖R‖_F in ${mf.filter((e) => e.certified.frobenius).length}`,
      `mean backward seeds ${f(meanOf(mf.map((e) => e.backwardSeeds)), 3)} and forward-mode tangents ${f(meanOf(mf.map((e) => e.forwardModeTangents)), 3)} per row (exact R: ${runner.outputSize} backward seeds); rows run (× noisy copies / path points): ${f(meanOf(mf.map((e) => e.backwardRows + e.forwardModeRows)), 3)}`,
      `mean certified half-width: σ1 ${f(meanOf(mf.map((e) => (e.sigma1Bounds[1] - e.sigma1Bounds[0]) / e.sigma1Bounds[0])), 2)} (relative residual), ‖R‖_F ${f(meanOf(mf.map((e) => rel(e.frobeniusBounds, (b) => (b[0] + b[1]) / 2))), 2)} relative`,
    );
  }
  blocks.push(
    { kind: 'heading', text: 'Spectra: exact or matrix-free' },
    { kind: 'list', items: spectraItems },
  );
  // predictions
  const pred = new Map(rows.map((r) => [r.inputId, r.predicted]));
  blocks.push(
    { kind: 'heading', text: 'Images and predicted classes' },
    {
      kind: 'table',
      header: ['image', 'predicted output', 'class name'],
      rows: [...pred].map(([id, k]) => [id, String(k), className(k)]),
    },
  );
  // Figure 3
  const figs = await writeScoreCurves(dir, aggs, {
    methodLabel: METHOD,
    subtitle: `mean ± standard error over ${n} images; dashed: IG${cfg.shapleyPatch > 0 ? ' and Shapley' : ''}`,
  });
  blocks.push(
    { kind: 'heading', text: 'Figure 3: scores against the hyperparameter' },
    { kind: 'figures', figures: figs },
  );
  // Figure 2: heat maps of the first image over its photo, with class names
  const ex = ctx.inputs[0];
  const shape = runner.model.inputShape;
  const bg = greyOf(ex.x, shape);
  writeFileSync(join(dir, 'photo.png'), photoPng(ex.x, shape));
  const heat: { file: string; caption: string }[] = [
    { file: 'photo.png', caption: `${ex.id}: the model input (centre crop ${H}×${W})` },
  ];
  const lrpG = aggs.filter((a) => a.method === 'lrp').map((a) => a.paramValue);
  const finite = lrpG.filter((g) => Number.isFinite(g) && g > 0);
  const optG = optimum(aggs, 'lrp', 'ssm')?.paramValue;
  const optS = optimum(aggs, 'sg', 'ssm')?.paramValue;
  const shown: [string, MethodSpec][] = [];
  if (finite.length) shown.push([`LRP γ = ${f(Math.min(...finite))} (small)`, lrpSpec(Math.min(...finite))]);
  if (optG !== undefined) shown.push([`LRP γ = ${f(optG)} (SSM-optimal)`, lrpSpec(optG)]);
  if (finite.length) shown.push([`LRP γ = ${f(Math.max(...finite))} (large)`, lrpSpec(Math.max(...finite))]);
  if (optS !== undefined)
    shown.push([
      `SmoothGrad×Input s = ${f(optS)} (SSM-optimal)`,
      { method: 'sg', noise: optS, samples: cfg.sgSamples, seed: cfg.seed, preprocess: 'imagenet' },
    ]);
  if (methods.includes('ig'))
    shown.push([
      `IG, ${cfg.igSteps} steps`,
      { method: 'ig', steps: cfg.igSteps, baseline: 'black', preprocess: 'imagenet' },
    ]);
  for (const [i, [label, spec]] of shown.entries()) {
    const method = createMethod(runner, spec);
    const spectra = spectraFor(cfg.spectra, method, cfg);
    const row = await imagenetRow(method, ex, spectra, cfg);
    const { seeds, K } = oneHotSeeds(runner.outputSize, [row.predicted]);
    const h = channelSum((await method.attribute(ex.x, seeds, K)).attributions, shape[0]);
    const file = `fig2-${i + 1}-${spec.method}.png`;
    writeFileSync(join(dir, file), heatmapPng(h, H, W, { background: bg }));
    heat.push({
      file,
      caption: `${label}, ${ex.id}, predicted "${className(row.predicted)}" (output ${row.predicted}): SSM ${f(row.ssm)}, stability ${f(row.stability)}, sensitivity ${f(row.sensitivity)} (${spectra}), PF-AUC ${f(row.pfAuc)}, entropy ${f(row.entropy)}. Red positive, blue negative, scaled to max |h|, over the photo in grey.`,
    });
    await runner.releaseExcept(['forward']);
  }
  blocks.push(
    { kind: 'heading', text: `Figure 2: heat maps of ${ex.id} for its predicted class` },
    { kind: 'figures', figures: heat },
  );
  // Figure 5: spectral decomposition of the LRP explanation at the SSM-optimal γ
  if (optG !== undefined) {
    const decomp = await decomposition(runner, lrpSpec(optG), ex.x, cfg);
    const figs5 = decomp.maps.map((m, i) => {
      const file = i < decomp.maps.length - 1 ? `fig5-component-${i + 1}.png` : 'fig5-remainder.png';
      writeFileSync(join(dir, file), heatmapPng(m, H, W, { background: bg }));
      return {
        file,
        caption:
          i < decomp.maps.length - 1
            ? `γ = ${f(optG)}: component ${i + 1}, u${i + 1}ᵀRy = ${f(decomp.weights[i])}`
            : `γ = ${f(optG)}: remainder (components ${decomp.maps.length}…)`,
      };
    });
    await runner.releaseExcept(['forward']);
    blocks.push(
      {
        kind: 'heading',
        text: `Figure 5: spectral decomposition of the LRP explanation of "${className(decomp.target)}" (${decomp.how})`,
      },
      { kind: 'figures', figures: figs5 },
    );
  }
  writeReport(dir, "xspectra — the paper's ImageNet experiment", blocks);
  return { table1 };
}

function lrpSpec(gamma: number): MethodSpec {
  return { method: 'lrp', composite: 'vgg16-paper', gamma, preprocess: 'imagenet' };
}

/**
 * R·y = Σ σ_i (v_iᵀy) u_i = Σ (u_iᵀR·y) u_i for y = f_k e_k (k predicted): the first 4 terms and the remainder, from
 * the exact SVD or from the left Ritz vectors of the matrix-free estimate (then the terms are R·y's
 * projections u_i u_iᵀ R·y on them and the remainder is exact: R·y minus them).
 */
async function decomposition(runner: ModelRunner, spec: MethodSpec, x: Float32Array, cfg: ImagenetConfig) {
  const method = createMethod(runner, spec);
  const m = 4;
  if (spectraFor(cfg.spectra, method, cfg) === 'exact') {
    const a = await analyze(method, x, { components: m });
    a.matrix.store.release();
    const dc = a.decomposition!;
    return {
      maps: [...dc.components, dc.remainder],
      weights: dc.weights,
      target: dc.target,
      how: 'exact SVD',
    };
  }
  const e = await estimateSpectrum(method, x, {
    block: cfg.block,
    start: cfg.start,
    seed: cfg.seed,
    tolSigma1: cfg.tolSigma1,
    tolFrobenius: cfg.tolFrobenius,
  });
  const k = e.outputs.indexOf(Math.max(...e.outputs));
  const { seeds, K } = oneHotSeeds(runner.outputSize, [k]);
  const scale = method.divideByOutput ? 1 : e.outputs[k];
  const ry = channelSum((await method.attribute(x, seeds, K)).attributions, runner.model.inputShape[0]).map(
    (v) => v * scale,
  );
  // each component is the heat map's projection on a left Ritz vector, u_i u_iᵀ(R e_k f_k) — for
  // an exact singular triplet that is σ_i v_ik f_k u_i, and it stays exact for the column stage,
  // whose right vectors are zero outside the columns it computed (the target's is rarely one)
  const { u } = e.ritzVectors!;
  const weights = u.slice(0, m).map((ui) => ui.reduce((a, q, p) => a + q * ry[p], 0));
  const maps = weights.map((w, i) => u[i].map((q) => q * w));
  const remainder = ry.map((val, p) => val - maps.reduce((a, c) => a + c[p], 0));
  return {
    maps: [...maps, remainder],
    weights,
    target: k,
    how: 'projections on the Ritz vectors of the matrix-free estimate',
  };
}
