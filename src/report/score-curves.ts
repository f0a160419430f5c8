/**
 * Figure 3 of the paper for any experiment: every score against γ (LRP) and against the noise
 * level (SmoothGrad), mean ± standard error, IG and Shapley as dashed reference lines, and the
 * optimum of each score named in the caption. Shared by the MNIST and ImageNet reports.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Aggregate, MAXIMISE, optimum, type ScoreName } from '../experiments/aggregate.js';
import { lineSpec, renderSvg, type SeriesPoint } from './plots.js';

export const SCORE_LABEL: Record<string, string> = {
  ssm: 'SSM = ‖R‖_F / σ1 (dimensionless)',
  stability: 'stability = 1/σ1 (dimensionless)',
  sensitivity: 'sensitivity = ‖R‖_F (dimensionless)',
  pfAuc: 'PF-AUC (logit × fraction flipped)',
  entropy: 'entropy (nats)',
};

const f = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));

export async function writeScoreCurves(
  dir: string,
  aggs: Aggregate[],
  opts: { methodLabel: Record<string, string>; subtitle: string; colours?: Record<string, string> },
): Promise<{ file: string; caption: string }[]> {
  const label = opts.methodLabel;
  const figs: { file: string; caption: string }[] = [];
  for (const score of ['stability', 'sensitivity', 'ssm', 'pfAuc', 'entropy'] as ScoreName[]) {
    const refs = ['ig', 'shapley']
      .map((m) => aggs.find((a) => a.method === m))
      .filter((a): a is Aggregate => !!a && a.mean[score] !== undefined)
      .map((a) => ({ y: a.mean[score]!, label: label[a.method] }));
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
          series: label[method],
        }));
      if (pts.length === 0) continue;
      const file = `fig3-${score}-vs-${name}.svg`;
      const title = `${SCORE_LABEL[score]} against ${name === 'gamma' ? 'γ' : 'noise'}`;
      const spec = lineSpec({
        title,
        subtitle: opts.subtitle,
        xTitle,
        yTitle: SCORE_LABEL[score],
        points: pts,
        refs,
        logX,
        ...(opts.colours ? { colours: opts.colours } : {}),
      });
      writeFileSync(join(dir, file), await renderSvg(spec));
      const best = MAXIMISE[score] === undefined ? undefined : optimum(aggs, method, score);
      const bestText = best
        ? `; ${MAXIMISE[score] ? 'maximum' : 'minimum'} at ${name === 'gamma' ? 'γ' : 's'} = ${f(best.paramValue)}`
        : '';
      figs.push({
        file,
        caption: `${SCORE_LABEL[score]} of ${label[method]} against ${name === 'gamma' ? 'γ' : 'the noise level s'}${bestText}; ${opts.subtitle}.`,
      });
    }
  }
  return figs;
}
