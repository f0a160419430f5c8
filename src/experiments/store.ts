/**
 * The sweep result store: SQLite through better-sqlite3 (synchronous, maintained, WAL journal).
 * One row per (model hash, input id, method, parameters, seed), the primary key: an interrupted
 * sweep (Ctrl-C, kill -9) loses at most the row in flight, and a rerun skips what is done and
 * never writes a row twice. Each insert is its own transaction, so a row is either whole or absent.
 */
import Database from 'better-sqlite3';
import type { SpectralScores } from '../spectral/scores.js';

export interface ResultRow extends Omit<SpectralScores, 'effectiveRank' | 'l1Norm'> {
  /** null where the spectrum was estimated matrix-free (only σ1 and ‖R‖_F are known) */
  effectiveRank: number | null;
  l1Norm: number | null;
  modelHash: string;
  inputId: string;
  method: string;
  /** canonical JSON of the method parameters */
  params: string;
  seed: number;
  /** the swept parameter's name and value, for aggregation */
  paramName: string;
  paramValue: number;
  label: number | null;
  predicted: number;
  pfAuc: number | null;
  pfAucNorm: number | null;
  entropy: number | null;
  singularValues: string;
  /** JSON: how the spectrum was obtained (matrix-free: bounds reached, passes spent); null = exact */
  spectra?: string | null;
}

/** Score columns: finite numbers (or null where a metric was not requested) */
const SCORE_COLUMNS = [
  'sigma1',
  'stability',
  'sensitivity',
  'ssm',
  'effectiveRank',
  'l1Norm',
  'pfAuc',
  'pfAucNorm',
  'entropy',
] as const satisfies readonly (keyof ResultRow)[];

const COLUMNS: (keyof ResultRow)[] = [
  'modelHash',
  'inputId',
  'method',
  'params',
  'seed',
  'paramName',
  'paramValue',
  'label',
  'predicted',
  ...SCORE_COLUMNS,
  'singularValues',
  'spectra',
];

export class ResultStore {
  private db: Database.Database;
  private insertStmt: Database.Statement;
  private hasStmt: Database.Statement;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new Error(`cannot open result store ${path}: ${(e as Error).message}`);
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS results (
      modelHash TEXT NOT NULL, inputId TEXT NOT NULL, method TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL,
      paramName TEXT NOT NULL, paramValue REAL NOT NULL, label INTEGER, predicted INTEGER NOT NULL,
      sigma1 REAL NOT NULL, stability REAL NOT NULL, sensitivity REAL NOT NULL, ssm REAL NOT NULL,
      effectiveRank REAL, l1Norm REAL, pfAuc REAL, pfAucNorm REAL, entropy REAL,
      singularValues TEXT NOT NULL, createdAt TEXT NOT NULL DEFAULT (datetime('now')), spectra TEXT,
      PRIMARY KEY (modelHash, inputId, method, params, seed))`);
    // stores created before the spectra column existed get it (their rows are exact: null)
    const cols = this.db.prepare('PRAGMA table_info(results)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'spectra')) this.db.exec('ALTER TABLE results ADD COLUMN spectra TEXT');
    this.insertStmt = this.db.prepare(
      `INSERT INTO results (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.hasStmt = this.db.prepare(
      'SELECT 1 FROM results WHERE modelHash = ? AND inputId = ? AND method = ? AND params = ? AND seed = ?',
    );
  }

  has(modelHash: string, inputId: string, method: string, params: string, seed: number): boolean {
    return this.hasStmt.get(modelHash, inputId, method, params, seed) !== undefined;
  }

  insert(row: ResultRow): void {
    for (const k of SCORE_COLUMNS) {
      const v = row[k];
      if (v !== null && !Number.isFinite(v))
        throw new Error(`${row.inputId} ${row.method} ${row.params}: ${k} is ${v}; not stored`);
    }
    this.insertStmt.run({ spectra: null, ...row });
  }

  rows(where: Partial<Pick<ResultRow, 'method' | 'modelHash'>> = {}): ResultRow[] {
    const conds = Object.keys(where).map((k) => `${k} = @${k}`);
    const sql = `SELECT ${COLUMNS.join(', ')} FROM results${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY method, paramValue, inputId`;
    return this.db.prepare(sql).all(where) as ResultRow[];
  }

  /**
   * Merge other stores (e.g. shards run on other machines) into this one. Rows already present
   * are kept; a row whose key exists here with different numbers is counted as a conflict.
   */
  merge(paths: string[]): { added: number; duplicates: number; conflicts: number } {
    let added = 0;
    let duplicates = 0;
    let conflicts = 0;
    const key = 'modelHash, inputId, method, params, seed';
    const names = [...COLUMNS, 'createdAt'].join(', ');
    // a source written before the spectra column existed holds exact rows only
    const srcNames = (alias: string) => {
      const cols = this.db.prepare(`PRAGMA ${alias}.table_info(results)`).all() as { name: string }[];
      const has = new Set(cols.map((c) => c.name));
      return [...COLUMNS, 'createdAt'].map((c) => (has.has(c) ? c : `NULL AS ${c}`)).join(', ');
    };
    const same = COLUMNS.filter((c) => c !== 'spectra')
      .map((c) => `a.${c} IS b.${c}`)
      .join(' AND ');
    for (const [i, p] of paths.entries()) {
      const alias = `src${i}`;
      this.db.prepare(`ATTACH DATABASE ? AS ${alias}`).run(p);
      try {
        const overlap = this.db
          .prepare(
            `SELECT COUNT(*) AS n, SUM(CASE WHEN ${same} THEN 0 ELSE 1 END) AS diff FROM ${alias}.results b JOIN main.results a USING (${key})`,
          )
          .get() as { n: number; diff: number | null };
        const ins = this.db
          .prepare(
            `INSERT OR IGNORE INTO main.results (${names}) SELECT ${srcNames(alias)} FROM ${alias}.results`,
          )
          .run();
        added += ins.changes;
        duplicates += overlap.n - (overlap.diff ?? 0);
        conflicts += overlap.diff ?? 0;
      } finally {
        this.db.prepare(`DETACH DATABASE ${alias}`).run();
      }
    }
    return { added, duplicates, conflicts };
  }

  close(): void {
    this.db.close();
  }
}

export function toCsv(rows: ResultRow[]): string {
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}
