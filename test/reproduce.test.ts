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
  it('--quick on 2 digits writes the report, and a rerun resumes everything', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'xspectra-repro-')), 'report');
    const r = xspectra(['reproduce', 'mnist', '--quick', '--images', '2', '--out', out, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/computed 22 rows, resumed 0/);
    for (const f of [
      'index.html',
      'report.md',
      'results.csv',
      'fig3-ssm-vs-gamma.svg',
      'fig3-pfAuc-vs-noise.svg',
      'fig2-gamma-ssm-optimal.png',
      'fig5-gamma-small-remainder.png',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const db = new Database(join(out, 'results.sqlite'), { readonly: true });
    const rows = db
      .prepare("SELECT paramValue, ssm, pfAuc, entropy FROM results WHERE method = 'lrp'")
      .all() as {
      paramValue: number;
      ssm: number;
      pfAuc: number;
      entropy: number;
    }[];
    db.close();
    const byGamma = new Map<number, number[]>();
    for (const row of rows) byGamma.set(row.paramValue, [...(byGamma.get(row.paramValue) ?? []), row.ssm]);
    const [bestGamma, ssms] = [...byGamma].reduce((a, b) => (mean(b[1]) > mean(a[1]) ? b : a));
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const line = md.split('\n').find((l) => l.startsWith('| LRP (gamma-all) | γ = '))!;
    expect(line).toContain(`γ = ${Number(bestGamma.toPrecision(4))}`);
    expect(line).toContain(`| ${Number(mean(ssms).toPrecision(4))} ±`);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<img src="fig3-ssm-vs-gamma.svg"');
    const again = xspectra(['reproduce', 'mnist', '--quick', '--images', '2', '--out', out, '--no-progress']);
    expect(again.stdout).toMatch(/computed 0 rows, resumed 22/);
  });
});

function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}
