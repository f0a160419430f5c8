/**
 * `xspectra reproduce mnist` end to end on a small scale: the report folder has the tables,
 * figures and pages, and the Table 1 numbers equal the aggregates of the stored rows.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { xspectra } from './helpers/cli.js';

describe('reproduce mnist', () => {
  it('--quick on 2 digits writes the report with the ablation, and a rerun resumes everything', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'xspectra-repro-')), 'report');
    const r = xspectra(['reproduce', 'mnist', '--quick', '--images', '2', '--out', out, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const computed = Number(/computed (\d+) rows, resumed 0/.exec(r.stdout)?.[1]);
    // main: 2 digits × (6 γ + 3 noise + IG + Shapley); ablation: 3 composites × 2 max-pool rules ×
    // 5 γ × 4 column choices × 2 digits, less the 3 γ × 2 digits it shares with the main sweep
    expect(computed).toBe(22 + 240 - 6);
    for (const f of [
      'index.html',
      'report.md',
      'results.csv',
      'fig3-ssm-vs-gamma.svg',
      'fig3-pfAuc-vs-noise.svg',
      'fig2-gamma-ssm-optimal.png',
      'fig5-gamma-small-remainder.png',
      'ablation-mnist-paper-ssm.svg',
      'ablation-gamma-all-sensitivity.svg',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const db = new Database(join(out, 'results.sqlite'), { readonly: true });
    const rows = db.prepare("SELECT params, paramValue, ssm FROM results WHERE method = 'lrp'").all() as {
      params: string;
      paramValue: number;
      ssm: number;
    }[];
    const total = (db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n;
    db.close();
    expect(total).toBe(computed);
    const ssmsAt = (composite: string, columns: string, maxpoolRule: string) => {
      const by = new Map<number, number[]>();
      for (const row of rows) {
        const p = JSON.parse(row.params);
        if (p.composite !== composite || p.columns !== columns || p.maxpoolRule !== maxpoolRule) continue;
        by.set(row.paramValue, [...(by.get(row.paramValue) ?? []), row.ssm]);
      }
      return by;
    };
    const main = ssmsAt('mnist-paper', 'output', 'wta');
    expect(main.size).toBe(8); // the 6 γ of the main sweep + the ablation's own 0.25 and 1000
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const mainGrid = [...main].filter(([g]) => g !== 1000 && g !== 0.25);
    const [bestGamma, ssms] = mainGrid.reduce((a, b) => (mean(b[1]) > mean(a[1]) ? b : a));
    const line = md.split('\n').find((l) => l.startsWith('| LRP (mnist-paper) | γ = '))!;
    expect(line).toContain(`γ = ${Number(bestGamma.toPrecision(4))}`);
    expect(line).toContain(`| ${Number(mean(ssms).toPrecision(4))} ±`);
    expect(md).toContain('## Optima with bootstrap intervals');
    expect(md).toContain('## Findings');
    // the ablation table's cells are the means of the stored rows
    expect(md).toContain('## Ablation: which choices produce the SSM sweet spot?');
    const raw = ssmsAt('gamma-all', 'raw', 'average').get(0)!;
    expect(raw).toHaveLength(2);
    const row = md.split('\n').find((l) => l.startsWith('| gamma-all | E_k | average |'))!;
    expect(row.split('|')[4]).toContain(`${Number(mean(raw).toPrecision(4))} ±`);
    expect(
      md.split('\n').filter((l) => /^\| (mnist-paper|gamma-all|epsilon-gamma-box) \|/.test(l)),
    ).toHaveLength(24);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain(
      '<img src="ablation-mnist-paper-ssm.svg"',
    );
    const again = xspectra(['reproduce', 'mnist', '--quick', '--images', '2', '--out', out, '--no-progress']);
    expect(again.stdout).toMatch(new RegExp(`computed 0 rows, resumed ${computed}`));
  });
});

function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
