/**
 * The sweep result store: SQLite through better-sqlite3 (synchronous, maintained, WAL journal).
 * One row per (model hash, input id, method, parameters, seed), the primary key: an interrupted
 * sweep (Ctrl-C, kill -9) loses at most the row in flight, and a rerun skips what is done and
 * never writes a row twice. Each insert is its own transaction, so a row is either whole or absent.
 */
import Database from 'better-sqlite3';
import type { SpectralScores } from '../spectral/scores.js';

export interface ResultRow extends SpectralScores {
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
      effectiveRank REAL NOT NULL, l1Norm REAL NOT NULL, pfAuc REAL, pfAucNorm REAL, entropy REAL,
      singularValues TEXT NOT NULL, createdAt TEXT NOT NULL DEFAULT (datetime('now')),
      PRIMARY KEY (modelHash, inputId, method, params, seed))`);
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
    this.insertStmt.run(row);
  }

  /**
   * Insert unless a row with the same key is stored: rows from the job queue may arrive twice (a
   * retried or stalled job), and the primary key decides. Returns whether the row was new.
   */
  insertIfAbsent(row: ResultRow): boolean {
    try {
      this.insert(row);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
      throw e;
    }
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
    const same = COLUMNS.map((c) => `a.${c} IS b.${c}`).join(' AND ');
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
          .prepare(`INSERT OR IGNORE INTO main.results SELECT * FROM ${alias}.results`)
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
