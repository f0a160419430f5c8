/**
 * Sweeps are resumable: killing `xspectra sweep` with SIGKILL at three random moments and
 * rerunning gives exactly the rows of an uninterrupted run (nothing lost, nothing duplicated).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../src/io/npy.js';
import { Rng } from '../src/methods/random.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'xspectra-sweep-'));
const { x } = inputs('mnist-cnn');
const data = join(tmp, 'digits.npy');
writeFileSync(data, encodeNpy({ shape: [8, 1, 28, 28], data: x }));
const args = (db: string) => [
  'sweep',
  '--model',
  join(FIXTURES, 'models', 'mnist-cnn.onnx'),
  '--data',
  data,
  '--method',
  'lrp',
  '--gamma',
  '0,0.01,0.1,0.25,1,10,100,inf',
  '--db',
  db,
  '--no-progress',
];

function rows(db: string): string[] {
  const d = new Database(db, { readonly: true });
  const r = d.prepare('SELECT * FROM results ORDER BY inputId, params').all() as Record<string, unknown>[];
  d.close();
  return r.map(({ createdAt: _c, ...rest }) => JSON.stringify(rest));
}

function runAndKill(db: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'xspectra.js'), ...args(db)], {
      stdio: 'ignore',
    });
    const t = setTimeout(() => p.kill('SIGKILL'), afterMs);
    p.on('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

describe('sweep', () => {
  it('SIGKILL at three random moments, then a rerun, equals an uninterrupted run', async () => {
    const full = join(tmp, 'full.sqlite');
    const t0 = Date.now();
    const r = xspectra(args(full));
    const duration = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/computed 64, skipped 0/);
    const ref = rows(full);
    expect(ref.length).toBe(64);
    const killed = join(tmp, 'killed.sqlite');
    const seed = Date.now() % 100000;
    const rng = new Rng(seed);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      // a random moment within the first 80 % of an uninterrupted run's wall time
      await runAndKill(killed, Math.round(duration * (0.25 + 0.55 * rng.uniform())));
      counts.push(rows(killed).length);
    }
    // at least one kill must have landed mid-run for the test to mean anything
    expect(
      counts.some((c) => c < 64),
      `rows after each kill: ${counts} (seed ${seed})`,
    ).toBe(true);
    const again = xspectra(args(killed));
    expect(again.code, again.stderr).toBe(0);
    const skipped = Number(/skipped (\d+)/.exec(again.stdout)![1]);
    expect(skipped).toBe(counts[2]);
    expect(rows(killed)).toEqual(ref);
    // a second rerun computes nothing
    expect(xspectra(args(killed)).stdout).toMatch(/computed 0, skipped 64/);
    // the claims of the killed runs were taken over and released
    const h = new Database(killed, { readonly: true });
    expect((h.prepare('SELECT COUNT(*) AS n FROM claims').get() as { n: number }).n).toBe(0);
    h.close();
  });
  it('exports CSV with one line per row', () => {
    const db = join(tmp, 'full.sqlite');
    const csv = join(tmp, 'rows.csv');
    expect(xspectra([...args(db), '--csv', csv]).code).toBe(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines.length).toBe(65);
    expect(lines[0]).toMatch(/^modelHash,inputId,method,params,seed/);
  });
  it('two shards merged equal the full run', () => {
    const a = join(tmp, 'shard0.sqlite');
    const b = join(tmp, 'shard1.sqlite');
    expect(xspectra([...args(a), '--shard', '0/2']).stdout).toMatch(/computed 32, skipped 0/);
    expect(xspectra([...args(b), '--shard', '1/2']).stdout).toMatch(/computed 32, skipped 0/);
    const merged = join(tmp, 'merged.sqlite');
    const m = xspectra(['merge', '--db', merged, a, b]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/added 64 rows, 0 already present, 0 conflicting/);
    expect(rows(merged)).toEqual(rows(join(tmp, 'full.sqlite')));
    expect(xspectra(['merge', '--db', merged, a]).stdout).toMatch(
      /added 0 rows, 32 already present, 0 conflicting/,
    );
  });
});
