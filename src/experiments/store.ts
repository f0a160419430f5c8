/**
 * The sweep result store: SQLite through better-sqlite3 (synchronous, maintained, WAL journal).
 *
 * Row identity is the CONTENT of the work, not how it was named: the key is (model sha256,
 * input sha256 of the model-input float32 bytes, method, canonical parameters, integer seed).
 * The same NPY reached by three path spellings, or by a shard on another machine, is one row;
 * `inputId` is kept for display (the first name it was computed under).
 *
 * Crash safety: each row is inserted in its own transaction, so a row is whole or absent; an
 * interrupted sweep (Ctrl-C, kill -9) loses at most the row in flight, a rerun skips what is done.
 *
 * Concurrency: several sweeps may write one store. SQLite's busy timeout serialises the writes;
 * a `claims` table says which process computes which row, so two sweeps split the work instead
 * of computing a row twice. A claim whose process is gone (same host, pid not alive) or is older
 * than `staleClaimMs` (another host) is taken over.
 */
import { createHash } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { processAlive } from '../io/process-alive.js';
import type { SpectralScores } from '../spectral/scores.js';

export interface ResultRow extends Omit<SpectralScores, 'effectiveRank' | 'l1Norm'> {
  /** null where the spectrum was estimated matrix-free (only σ1 and ‖R‖_F are known) */
  effectiveRank: number | null;
  l1Norm: number | null;
  modelHash: string;
  /** sha256 (hex) of the input's float32 bytes: part of the key */
  inputHash: string;
  /** display name of the input (first spelling stored); not part of the key */
  inputId: string;
  method: string;
  /** canonical JSON of the method parameters */
  params: string;
  /** unsigned 32-bit integer */
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

/** The identity of a row */
export type RowKey = Pick<ResultRow, 'modelHash' | 'inputHash' | 'method' | 'params' | 'seed'>;
const KEY_COLUMNS = ['modelHash', 'inputHash', 'method', 'params', 'seed'] as const;

/** sha256 hex of a tensor's bytes: the content identity of inputs (and of tensor parameters) */
export function tensorHash(x: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
    .digest('hex');
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

export const METRIC_COLUMNS = { pf: ['pfAuc', 'pfAucNorm'], entropy: ['entropy'] } as const;

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
  // last, so CSV columns written before content keys keep their positions
  'inputHash',
  // nullable: matrix-free rows have no effective rank or ‖R‖_1; how the spectrum was obtained
  'spectra',
];

const SCHEMA = `CREATE TABLE IF NOT EXISTS results (
  modelHash TEXT NOT NULL, inputHash TEXT NOT NULL, inputId TEXT NOT NULL, method TEXT NOT NULL,
  params TEXT NOT NULL, seed INTEGER NOT NULL,
  paramName TEXT NOT NULL, paramValue REAL NOT NULL, label INTEGER, predicted INTEGER NOT NULL,
  sigma1 REAL NOT NULL, stability REAL NOT NULL, sensitivity REAL NOT NULL, ssm REAL NOT NULL,
  effectiveRank REAL, l1Norm REAL, pfAuc REAL, pfAucNorm REAL, entropy REAL,
  singularValues TEXT NOT NULL, createdAt TEXT NOT NULL DEFAULT (datetime('now')), spectra TEXT,
  PRIMARY KEY (modelHash, inputHash, method, params, seed));
CREATE TABLE IF NOT EXISTS claims (
  modelHash TEXT NOT NULL, inputHash TEXT NOT NULL, method TEXT NOT NULL, params TEXT NOT NULL,
  seed INTEGER NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, owner TEXT NOT NULL,
  claimedAt INTEGER NOT NULL, PRIMARY KEY (modelHash, inputHash, method, params, seed));`;

/** A store that cannot be opened, read or written; the message names its path */
export class StoreError extends Error {}

export type ClaimResult = 'done' | 'mine' | 'busy';

export interface StoreOptions {
  /** how long a write waits for another writer (ms) */
  busyTimeoutMs?: number;
  /** a claim from another host older than this is considered abandoned (ms) */
  staleClaimMs?: number;
}

function checkKeySchema(db: Database.Database, schema: string, path: string): void {
  const cols = (db.prepare(`PRAGMA ${schema}.table_info(results)`).all() as { name: string }[]).map(
    (c) => c.name,
  );
  if (cols.length > 0 && !cols.includes('inputHash'))
    throw new StoreError(
      `${path}: written by an older xspectra (rows keyed by input path, not content); ` +
        'start a new --db (rows cannot be re-keyed without the inputs)',
    );
}

export class ResultStore {
  private db: Database.Database;
  private insertStmt: Database.Statement;
  private hasStmt: Database.Statement;
  private readonly host = hostname();
  private readonly owner = `${hostname()}:${process.pid}:${Date.now()}`;
  private readonly staleClaimMs: number;

  constructor(
    readonly path: string,
    opts: StoreOptions = {},
  ) {
    this.staleClaimMs = opts.staleClaimMs ?? 6 * 3600_000;
    try {
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 60_000 });
    } catch (e) {
      throw new StoreError(`cannot open result store ${path}: ${(e as Error).message}`);
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      checkKeySchema(this.db, 'main', path);
      this.db.exec(SCHEMA);
    } catch (e) {
      this.db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError(`result store ${path}: ${(e as Error).message}`);
    }
    // stores created before the spectra column existed get it (their rows are exact: null)
    const cols = this.db.prepare('PRAGMA table_info(results)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'spectra')) this.db.exec('ALTER TABLE results ADD COLUMN spectra TEXT');
    this.insertStmt = this.db.prepare(
      `INSERT OR IGNORE INTO results (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.hasStmt = this.db.prepare(
      `SELECT pfAuc, entropy FROM results WHERE ${KEY_COLUMNS.map((c) => `${c} = ?`).join(' AND ')}`,
    );
  }

  private keyArgs(k: RowKey): unknown[] {
    return KEY_COLUMNS.map((c) => k[c]);
  }

  has(modelHash: string, inputHash: string, method: string, params: string, seed: number): boolean {
    return this.hasStmt.get(modelHash, inputHash, method, params, seed) !== undefined;
  }

  /** The requested metrics a stored row lacks (a sweep resumed with more --metrics fills them) */
  missingMetrics(k: RowKey, wanted: { pf: boolean; entropy: boolean }): ('pf' | 'entropy')[] {
    const r = this.hasStmt.get(...this.keyArgs(k)) as
      | { pfAuc: number | null; entropy: number | null }
      | undefined;
    if (!r) return [];
    const out: ('pf' | 'entropy')[] = [];
    if (wanted.pf && r.pfAuc === null) out.push('pf');
    if (wanted.entropy && r.entropy === null) out.push('entropy');
    return out;
  }

  /**
   * Claim a row before computing it: 'done' (already stored), 'mine' (compute it), or 'busy'
   * (a live process computes it now). One IMMEDIATE transaction, so two writers never both win.
   */
  claim(k: RowKey): ClaimResult {
    const args = this.keyArgs(k);
    const where = KEY_COLUMNS.map((c) => `${c} = ?`).join(' AND ');
    const tx = this.db.transaction((): ClaimResult => {
      if (this.db.prepare(`SELECT 1 FROM results WHERE ${where}`).get(...args)) return 'done';
      const c = this.db
        .prepare(`SELECT host, pid, owner, claimedAt FROM claims WHERE ${where}`)
        .get(...args) as { host: string; pid: number; owner: string; claimedAt: number } | undefined;
      if (c && c.owner !== this.owner) {
        const abandoned =
          c.host === this.host ? !processAlive(c.pid) : Date.now() - c.claimedAt > this.staleClaimMs;
        if (!abandoned) return 'busy';
      }
      this.db
        .prepare(
          `INSERT OR REPLACE INTO claims (${KEY_COLUMNS.join(', ')}, host, pid, owner, claimedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(...args, this.host, process.pid, this.owner, Date.now());
      return 'mine';
    });
    return tx.immediate();
  }

  /** Store a finished row and drop its claim, in one transaction. False if it was already there. */
  insert(row: ResultRow): boolean {
    for (const k of SCORE_COLUMNS) {
      const v = row[k];
      if (v !== null && !Number.isFinite(v))
        throw new StoreError(`${row.inputId} ${row.method} ${row.params}: ${k} is ${v}; not stored`);
    }
    if (!Number.isSafeInteger(row.seed) || row.seed < 0 || row.seed > 2 ** 32 - 1)
      throw new StoreError(`${row.inputId}: seed ${row.seed} is not an unsigned 32-bit integer`);
    const tx = this.db.transaction(() => {
      const added = this.insertStmt.run({ spectra: null, ...row }).changes > 0;
      this.releaseClaim(row);
      return added;
    });
    return tx.immediate();
  }

  /** Fill metric columns of a stored row that lacked them */
  updateMetrics(k: RowKey, values: Partial<Pick<ResultRow, 'pfAuc' | 'pfAucNorm' | 'entropy'>>): void {
    const sets = Object.entries(values).filter(([, v]) => v !== undefined);
    for (const [c, v] of sets)
      if (v !== null && !Number.isFinite(v)) throw new StoreError(`${k.inputHash}: ${c} is ${v}; not stored`);
    if (sets.length === 0) return;
    const tx = this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE results SET ${sets.map(([c]) => `${c} = COALESCE(${c}, ?)`).join(', ')} WHERE ${KEY_COLUMNS.map((c) => `${c} = ?`).join(' AND ')}`,
        )
        .run(...sets.map(([, v]) => v), ...this.keyArgs(k));
      this.releaseClaim(k);
    });
    tx.immediate();
  }

  /** Give up a claim (e.g. the computation failed) */
  releaseClaim(k: RowKey): void {
    this.db
      .prepare(`DELETE FROM claims WHERE ${KEY_COLUMNS.map((c) => `${c} = ?`).join(' AND ')} AND owner = ?`)
      .run(...this.keyArgs(k), this.owner);
  }

  /** Several rows in one transaction (all or none), e.g. the column variants of one attribution */
  insertAll(rows: ResultRow[]): void {
    this.db.transaction((rs: ResultRow[]) => {
      for (const r of rs) this.insert(r);
    })(rows);
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
    const sql = `SELECT ${COLUMNS.join(', ')} FROM results${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY method, paramValue, inputId, inputHash`;
    return this.db.prepare(sql).all(where) as ResultRow[];
  }

  /**
   * Merge other stores (e.g. shards run on other machines) into this one, in one transaction
   * (a failure changes nothing). Sources must exist and be result stores; they are only read.
   * Rows already present are kept; a row whose key exists here with different numbers is
   * counted as a conflict (the display name `inputId` may differ without conflict).
   */
  merge(paths: string[]): { added: number; duplicates: number; conflicts: number } {
    for (const p of paths) checkSource(p);
    let added = 0;
    let duplicates = 0;
    let conflicts = 0;
    const cols = COLUMNS.join(', ');
    // a source written before the spectra column existed holds exact rows only
    const srcCols = (alias: string) => {
      const has = new Set(
        (this.db.prepare(`PRAGMA ${alias}.table_info(results)`).all() as { name: string }[]).map(
          (c) => c.name,
        ),
      );
      return COLUMNS.map((c) => (has.has(c) ? c : `NULL AS ${c}`)).join(', ');
    };
    const same = COLUMNS.filter((c) => c !== 'inputId' && c !== 'spectra')
      .map((c) => `a.${c} IS b.${c}`)
      .join(' AND ');
    const attached: string[] = [];
    try {
      for (const [i, p] of paths.entries()) {
        const alias = `src${i}`;
        this.db.prepare(`ATTACH DATABASE ? AS ${alias}`).run(p);
        attached.push(alias);
      }
      this.db.transaction(() => {
        for (const alias of attached) {
          const overlap = this.db
            .prepare(
              `SELECT COUNT(*) AS n, SUM(CASE WHEN ${same} THEN 0 ELSE 1 END) AS diff FROM ${alias}.results b JOIN main.results a USING (${KEY_COLUMNS.join(', ')})`,
            )
            .get() as { n: number; diff: number | null };
          const ins = this.db
            .prepare(
              `INSERT OR IGNORE INTO main.results (${cols}) SELECT ${srcCols(alias)} FROM ${alias}.results`,
            )
            .run();
          added += ins.changes;
          duplicates += overlap.n - (overlap.diff ?? 0);
          conflicts += overlap.diff ?? 0;
        }
      })();
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throw new StoreError(`merge into ${this.path}: ${(e as Error).message}`);
    } finally {
      for (const alias of attached) this.db.prepare(`DETACH DATABASE ${alias}`).run();
    }
    return { added, duplicates, conflicts };
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.db.prepare('DELETE FROM claims WHERE owner = ?').run(this.owner);
    } catch {
      // a store on a full disk still closes; stale claims of a dead pid are taken over later
    }
    this.db.close();
  }
}

/** A merge source must exist and be a result store of this schema; nothing is created for it */
function checkSource(p: string): void {
  if (!existsSync(p)) throw new StoreError(`merge source ${p}: no such file`);
  let db: Database.Database | undefined;
  try {
    db = new Database(p, { readonly: true, fileMustExist: true });
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'results'").get();
    if (!has) throw new StoreError(`merge source ${p}: not a result store (no results table)`);
    checkKeySchema(db, 'main', p);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError(`merge source ${p}: ${(e as Error).message}`);
  } finally {
    db?.close();
  }
}

/** Open a store for `merge`: a target that did not exist before is removed again if the merge fails */
export function mergeStores(
  target: string,
  sources: string[],
): { added: number; duplicates: number; conflicts: number } {
  for (const p of sources) checkSource(p);
  const existed = existsSync(target);
  const store = new ResultStore(target);
  try {
    return store.merge(sources);
  } catch (e) {
    store.close();
    if (!existed)
      for (const f of [target, `${target}-wal`, `${target}-shm`]) {
        try {
          unlinkSync(f);
        } catch {
          // not created
        }
      }
    throw e;
  } finally {
    store.close();
  }
}

export function toCsv(rows: ResultRow[]): string {
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}
