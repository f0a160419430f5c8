/**
 * The report's ablation section (issue 9): SSM, stability and sensitivity of LRP against γ for
 * every composite × column choice × max-pool rule, the position of each SSM maximum, and the
 * sentence that says which choices give an interior maximum (the paper's "sweet spot").
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AblationConfig, type AblationCurve, ablationCurves } from '../experiments/ablation.js';
import type { ResultRow } from '../experiments/store.js';
import { lineSpec, renderSvg, type SeriesPoint } from './plots.js';

const f = (v: number, d = 4) => (Number.isFinite(v) ? Number(v.toPrecision(d)).toString() : String(v));

export const COLUMN_LABEL: Record<string, string> = {
  output: 'E_k/f_k',
  raw: 'E_k',
  sum: 'E_k/Σ_i E_ik',
  'output+top:3': 'E_k/f_k, top 3 outputs',
};

export interface AblationSection {
  curves: AblationCurve[];
  markdown: string;
  figures: { file: string; caption: string }[];
  /** the one-paragraph conclusion */
  conclusion: string;
}

export async function writeAblationSection(
  dir: string,
  rows: ResultRow[],
  cfg: AblationConfig,
): Promise<AblationSection> {
  const curves = ablationCurves(rows, cfg).filter((c) => c.points.length > 0);
  const grid = cfg.gammas;
  const header = `| composite | columns | max-pool | ${grid.map((g) => `γ=${f(g)}`).join(' | ')} | SSM max at | interior (bootstrap share) |`;
  const table = [
    header,
    `|${'---|'.repeat(grid.length + 5)}`,
    ...curves.map((c) => {
      const cells = grid.map((g) => {
        const p = c.points.find((q) => q.gamma === g);
        if (!p) return '–';
        const txt = `${f(p.mean.ssm)} ± ${f(p.se.ssm, 2)}`;
        return g === c.argmaxSsm ? `**${txt}**` : txt;
      });
      return `| ${c.composite} | ${COLUMN_LABEL[c.columns] ?? c.columns} | ${c.maxpoolRule} | ${cells.join(' | ')} | ${f(c.argmaxSsm)} | ${c.interior ? 'yes' : 'no'} (${(100 * c.interiorShare).toFixed(0)} %) |`;
    }),
  ].join('\n');
  const n = Math.max(0, ...curves.flatMap((c) => c.points.map((p) => p.n)));
  const perComposite = cfg.composites
    .map((composite) => {
      const mine = curves.filter((c) => c.composite === composite);
      if (mine.length === 0) return '';
      const inside = mine.filter((c) => c.interior);
      const name = (c: AblationCurve) => `${COLUMN_LABEL[c.columns] ?? c.columns} / ${c.maxpoolRule}`;
      return inside.length === 0
        ? `${composite}: no interior maximum (${mine.length} of ${mine.length} at the edge).`
        : `${composite}: interior maximum for ${inside.length} of ${mine.length} (${inside
            .map(
              (c) =>
                `${name(c)} at γ = ${f(c.argmaxSsm)}, ${(100 * c.interiorShare).toFixed(0)} % of resamples interior`,
            )
            .join('; ')})${
            inside.length < mine.length
              ? `; at the edge for ${mine
                  .filter((c) => !c.interior)
                  .map((c) => `${name(c)} (γ = ${f(c.argmaxSsm)})`)
                  .join('; ')}`
              : ''
          }.`;
    })
    .filter(Boolean);
  const conclusion = `Where the SSM has an interior maximum over γ ∈ {${grid.map((g) => f(g)).join(', ')}} (${n} digits; bootstrap share of resamples whose maximum is interior in brackets): ${perComposite.join(' ')} Of these composites only mnist-paper applies γ to the dense layer.`;
  const figures: { file: string; caption: string }[] = [];
  for (const composite of cfg.composites) {
    const mine = curves.filter((c) => c.composite === composite);
    if (mine.length === 0) continue;
    for (const score of ['ssm', 'stability', 'sensitivity'] as const) {
      const points: SeriesPoint[] = mine.flatMap((c) =>
        c.points
          .filter((p) => Number.isFinite(p.gamma))
          .map((p) => ({
            x: p.gamma,
            y: p.mean[score],
            lo: p.mean[score] - p.se[score],
            hi: p.mean[score] + p.se[score],
            series: `${COLUMN_LABEL[c.columns] ?? c.columns}, ${c.maxpoolRule}`,
          })),
      );
      const file = `ablation-${composite}-${score}.svg`;
      const title = `${composite}: ${score === 'ssm' ? 'SSM' : score} against γ`;
      const subtitle = `mean ± standard error over ${n} digits; one line per column choice × max-pool rule`;
      writeFileSync(
        join(dir, file),
        await renderSvg(
          lineSpec({
            title,
            subtitle,
            xTitle: 'γ (symlog axis)',
            yTitle:
              score === 'ssm'
                ? 'SSM = ‖R‖_F/σ1'
                : score === 'stability'
                  ? 'stability = 1/σ1'
                  : 'sensitivity = ‖R‖_F',
            points,
            logX: true,
            logY: score !== 'ssm',
          }),
        ),
      );
      figures.push({ file, caption: `${title}; ${subtitle}.` });
    }
  }
  const markdown = [
    '## Ablation: which choices produce the SSM sweet spot?',
    '',
    `LRP on the same ${n} digits for every composite × column choice × max-pool rule; mean SSM ± standard error; the largest mean per row in bold. ` +
      'Composites: mnist-paper (z^B first conv, γ on all other convs and the dense layer), gamma-all (γ on convs, ε on dense), ' +
      'epsilon-gamma-box (z^B first conv, γ on other convs, ε on dense). Columns: E_k/f_k (DESIGN §1.2), E_k unnormalised, ' +
      'E_k/Σ_i E_ik (relevance-sum normalised), and E_k/f_k keeping only the 3 largest outputs. Max-pool: winner takes all (wta) ' +
      'or proportional redistribution as an average pool (average). Inactive outputs (f_k ≤ 0) are zero columns.',
    '',
    table,
    '',
    conclusion,
    '',
    ...figures.map((g) => `![${g.caption}](${g.file})\n\n*${g.caption}*\n`),
  ].join('\n');
  return { curves, markdown, figures, conclusion };
}
