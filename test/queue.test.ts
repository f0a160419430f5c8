/**
 * Sweeps on a job queue (BullMQ on a Redis that each test starts itself): workers killed mid-job,
 * files that differ from the coordinator's, Redis stopped mid-sweep. Every case must end with the
 * rows of the single-process sweep, bit for bit, each exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisTarget } from '../src/experiments/queue/connection.js';
import { decodeSpec, encodeSpec, fromWire, toWire } from '../src/experiments/queue/jobs.js';
import { encodeNpy } from '../src/io/npy.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs } from './helpers/fixtures.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'xspectra-queue-'));
const data = join(tmp, 'digits.npy');
writeFileSync(data, encodeNpy({ shape: [8, 1, 28, 28], data: inputs('mnist-cnn').x }));
const MODEL = join(FIXTURES, 'models', 'mnist-cnn.onnx');
const ROWS = 32;
const sweepArgs = (db: string, model = MODEL) => [
  'sweep',
  '--model',
  model,
  '--data',
  data,
  '--method',
  'lrp',
  '--gamma',
  '0,0.25,1,inf',
  '--threads',
  '1',
  '--db',
  db,
  '--no-progress',
];

/** every process a test started, killed in afterAll even when a test timed out */
const spawned: ChildProcess[] = [];

/** A CLI process whose output the test can wait on */
class Cli {
  readonly proc: ChildProcess;
  out = '';
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [join(ROOT, 'bin', 'xspectra.js'), ...args], { cwd: ROOT });
    spawned.push(this.proc);
    this.proc.stdout!.on('data', (d) => {
      this.out += String(d);
    });
    this.proc.stderr!.on('data', (d) => {
      this.out += String(d);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }
  /** the exit code, or an error with everything the process printed */
  exit(ms = 50_000, others: Cli[] = []): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `still running after ${ms} ms:\n${this.out}\n${others.map((o, i) => `--- worker ${i}:\n${o.out}`).join('\n')}`,
            ),
          ),
        ms,
      );
    });
    return Promise.race([this.exited, late]).finally(() => clearTimeout(timer));
  }
  async waitFor(re: RegExp, ms = 60_000): Promise<RegExpExecArray> {
    const t0 = Date.now();
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (Date.now() - t0 > ms) throw new Error(`no ${re} after ${ms} ms in:\n${this.out}`);
      if (this.proc.exitCode !== null)
        throw new Error(`exited (${this.proc.exitCode}) without ${re}:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const worker = (url: string) =>
  new Cli(['worker', '--queue', url, '--threads', '1', '--lock-duration', '2000']);

function rows(db: string): string[] {
  const d = new Database(db, { readonly: true });
  const r = d.prepare('SELECT * FROM results ORDER BY inputId, params').all() as Record<string, unknown>[];
  d.close();
  return r.map(({ createdAt: _c, ...rest }) => JSON.stringify(rest));
}

async function waitForRows(db: string, n: number): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    try {
      if (rows(db).length >= n) return;
    } catch {
      // the store does not exist yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${db}: fewer than ${n} rows after 60 s`);
}

async function stopAll(workers: Cli[]): Promise<void> {
  for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
  const kill = setTimeout(() => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
  }, 10_000);
  await Promise.all(workers.map((w) => w.exited));
  clearTimeout(kill);
}

let ref: string[];
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
  const r = xspectra(sweepArgs(join(tmp, 'single.sqlite')));
  expect(r.code, r.stderr).toBe(0);
  ref = rows(join(tmp, 'single.sqlite'));
  expect(ref.length).toBe(ROWS);
});
afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await redis?.stop();
});

describe('queue plumbing', () => {
  it('method specs and rows cross the wire unchanged (∞, typed arrays)', () => {
    const spec = {
      method: 'ig' as const,
      gamma: Number.POSITIVE_INFINITY,
      baseline: Float32Array.of(0.5, -1e-30, 3),
      featureMask: Int32Array.of(0, 2, 1),
      low: [0],
      progress: () => {},
    };
    const back = decodeSpec(fromWire(toWire(encodeSpec(spec))));
    expect(back.gamma).toBe(Number.POSITIVE_INFINITY);
    expect(back.baseline).toEqual(spec.baseline);
    expect(back.featureMask).toEqual(spec.featureMask);
    expect(back.low).toEqual([0]);
    expect(back.progress).toBeUndefined();
    const row = { paramValue: Number.POSITIVE_INFINITY, ssm: 1.1234567890123457, x: Number.NaN, n: null };
    expect(fromWire(toWire(row))).toEqual(row);
  });
  it('Redis URLs: host, port, db; bad ones name the problem', () => {
    const t = redisTarget('redis://user:p%40ss@10.0.0.5:6380/3');
    expect([t.options.host, t.options.port, t.options.db, t.options.password]).toEqual([
      '10.0.0.5',
      6380,
      3,
      'p@ss',
    ]);
    expect(t.where).toBe('redis://10.0.0.5:6380/3');
    expect(redisTarget('redis://localhost').options.port).toBe(6379);
    expect(() => redisTarget('http://x:1')).toThrow(/protocol http:/);
    expect(() => redisTarget('redis://x:1/a')).toThrow(/database "a" is not a number/);
    expect(() => redisTarget('localhost:6379')).toThrow(/redis:\/\/HOST:PORT/);
  });
});

describe('sweep --queue', () => {
  it('three workers, one SIGKILLed mid-job and one stopped by SIGTERM mid-job: every row once, bit-identical', async () => {
    const db = join(tmp, 'three.sqlite');
    // workers join one after another, so each step is deterministic however fast the machine is
    const workers = [worker(redis.url)];
    try {
      const sweep = new Cli([...sweepArgs(db), '--queue', redis.url, '--batch', '2']);
      // kill worker 0 as soon as it has taken a job: the job is in flight, its lock stays in Redis
      const started = (await workers[0].waitFor(/start \S+ (row-\w+)/))[1];
      workers[0].proc.kill('SIGKILL');
      expect(await workers[0].exited).toBe(null);
      expect(workers[0].out).not.toContain(`done`);
      // SIGTERM worker 1 while it runs its first job: it finishes that job, takes no other, exits 0
      workers.push(worker(redis.url));
      const second = (await workers[1].waitFor(/start \S+ (row-\w+)/))[1];
      workers[1].proc.kill('SIGTERM');
      expect(await workers[1].exited).toBe(0);
      const tail = workers[1].out.slice(workers[1].out.indexOf('SIGTERM'));
      expect(tail).toMatch(new RegExp(`done \\S+ ${second}`));
      expect(tail).not.toMatch(/ start /);
      expect(tail).toContain('worker stopped');
      // worker 2 does the rest, the killed worker's stalled job included
      workers.push(worker(redis.url));
      expect(await sweep.exit(60_000, workers), sweep.out).toBe(0);
      expect(sweep.out).toMatch(new RegExp(`computed ${ROWS}, skipped 0`));
      // the killed worker's job went stalled and ran on worker 2
      expect(workers[2].out).toMatch(new RegExp(`start \\S+ ${started}`));
      expect(rows(db)).toEqual(ref);
      // resume: a rerun enqueues nothing
      const again = xspectra([...sweepArgs(db), '--queue', redis.url]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`computed 0, skipped ${ROWS}`));
    } finally {
      await stopAll(workers);
    }
  });

  it('a job whose model differs on the worker fails with the reason and stores nothing; the rerun completes', async () => {
    const model = join(tmp, 'model.onnx');
    copyFileSync(MODEL, model);
    const db = join(tmp, 'wrong.sqlite');
    const sweep = new Cli([...sweepArgs(db, model), '--queue', redis.url, '--batch', '8']);
    await sweep.waitFor(/4 jobs for 32 rows/);
    // the worker sees another file at the model's path
    copyFileSync(join(FIXTURES, 'models', 'vgg-mini-bn.onnx'), model);
    const w = worker(redis.url);
    try {
      expect(await sweep.exit(30_000, [w]), sweep.out).toBe(1);
      expect(sweep.out).toMatch(/4 job\(s\) of xspectra-\w+ failed; 0 rows stored now, 32 missing/);
      expect(sweep.out).toMatch(
        /model \S+model\.onnx has sha256 \w+…, the job expects \w+…: this worker sees a different file/,
      );
      expect(rows(db)).toEqual([]);
      const status = xspectra(['queue', 'status', '--queue', redis.url]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/0 running, 0 finished \(not yet stored\), 4 failed; 1 workers/);
      expect(status.stdout).toMatch(/this worker sees a different file/);
      // refused, not retried: one attempt each
      expect(w.out.match(/ start /g)?.length).toBe(4);
      copyFileSync(MODEL, model);
      const again = xspectra([...sweepArgs(db, model), '--queue', redis.url, '--batch', '8']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`computed ${ROWS}, skipped 0`));
      expect(rows(db)).toEqual(ref);
    } finally {
      await stopAll([w]);
    }
  });

  it('Redis stopped mid-sweep: sweep and workers wait and reconnect; past --redis-timeout the sweep fails clearly and a rerun completes', async () => {
    const workers = [worker(redis.url), worker(redis.url)];
    try {
      // (a) Redis away for 2 s and back empty: everybody reconnects, lost jobs are enqueued again
      const dbA = join(tmp, 'outage.sqlite');
      const a = new Cli([...sweepArgs(dbA), '--queue', redis.url, '--redis-timeout', '60']);
      await waitForRows(dbA, 4);
      await redis.stop();
      await new Promise((r) => setTimeout(r, 2000));
      redis = await startRedis(redis.port);
      expect(await a.exit(50_000, workers), a.out).toBe(0);
      expect(a.out).toMatch(/waiting and reconnecting/);
      expect(a.out).toMatch(/enqueueing them again/);
      for (const w of workers) expect(w.out).toMatch(/waiting and reconnecting/);
      expect(rows(dbA)).toEqual(ref);

      // (b) Redis away longer than --redis-timeout: the sweep stops with a clear message
      const dbB = join(tmp, 'timeout.sqlite');
      const b = new Cli([...sweepArgs(dbB), '--queue', redis.url, '--redis-timeout', '3']);
      await waitForRows(dbB, 4);
      await redis.stop();
      expect(await b.exit(30_000, workers), b.out).toBe(1);
      expect(b.out).toMatch(
        /Redis at redis:\/\/127\.0\.0\.1:\d+\/0 did not answer for 3 s \(.*\); finished rows are in the store: start Redis and rerun the same command to resume/,
      );
      const partial = rows(dbB).length;
      expect(partial).toBeGreaterThanOrEqual(4);
      redis = await startRedis(redis.port);
      const again = xspectra([...sweepArgs(dbB), '--queue', redis.url]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`computed ${ROWS - partial}, skipped ${partial}`));
      expect(rows(dbB)).toEqual(ref);
    } finally {
      await stopAll(workers);
    }
  });
});
