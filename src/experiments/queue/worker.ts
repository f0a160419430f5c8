/**
 * Node-only: the worker side of a queued sweep. Each job is verified (model and input content
 * hashes) and computed by runSweep itself, into a throwaway in-memory store, so a worker's rows
 * are the single-process sweep's rows bit for bit. BullMQ does the rest: locks renewed while a
 * job runs, stalled jobs (worker died) returned to the queue by the other workers, bounded retries
 * with backoff, and on close() the worker takes no new job and waits for the ones it runs.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import type { Model } from '../../model/ir.js';
import type { ModelRunner } from '../../runtime/runner.js';
import { type ResultRow, ResultStore, tensorHash } from '../store.js';
import { runSweep, type SweepInput } from '../sweep.js';
import { type RedisTarget, registeredSweeps, registryClient } from './connection.js';
import {
  decodeSpec,
  fromWire,
  jobColumns,
  keyString,
  type SweepJobData,
  toWire,
  type WirePoint,
} from './jobs.js';

/** A job this worker must not run (its files differ from the coordinator's): fails without retries */
export class JobRefused extends Error {}

/** How a worker finds models and data sets (the CLI opens them from files) */
export interface Resolver {
  /** the model at job.model.path with the job's options; `sha256` is the file's content hash */
  model(m: SweepJobData['model']): Promise<{ model: Model; runner: ModelRunner }>;
  inputs(spec: string, shape: number[], preset: string): SweepInput[];
}

/** Compute the rows of one job (throws JobRefused when a file does not match its hash) */
export async function computeJob(data: SweepJobData, resolve: Resolver): Promise<ResultRow[]> {
  if (data.schema !== 'xspectra.job/1')
    throw new JobRefused(`job schema ${data.schema}: this worker understands xspectra.job/1`);
  const { model, runner } = await resolve.model(data.model);
  if (model.hash !== data.model.sha256)
    throw new JobRefused(
      `model ${data.model.path} has sha256 ${model.hash.slice(0, 16)}…, the job expects ${data.model.sha256.slice(0, 16)}…: ` +
        'this worker sees a different file (workers must see the coordinator’s files, e.g. on a shared filesystem)',
    );
  const all = resolve.inputs(data.data.spec, model.inputShape, data.data.preset);
  const inputs: SweepInput[] = data.rows.map((r) => {
    const inp = all[r.index];
    if (!inp)
      throw new JobRefused(
        `input ${r.id}: ${data.data.spec} has ${all.length} inputs on this worker, the job wants #${r.index}`,
      );
    const h = tensorHash(inp.x);
    if (h !== r.sha256)
      throw new JobRefused(
        `input ${r.id} (#${r.index} of ${data.data.spec}) has sha256 ${h.slice(0, 16)}…, the job expects ${r.sha256.slice(0, 16)}…: ` +
          'this worker sees different data',
      );
    return { id: r.id, x: inp.x, label: r.label ?? undefined };
  });
  const point = fromWire<WirePoint>(data.point);
  const mem = new ResultStore(':memory:');
  try {
    await runSweep({
      runner,
      inputs,
      points: [{ spec: decodeSpec(point.spec), paramName: point.paramName, paramValue: point.paramValue }],
      store: mem,
      metrics: data.metrics,
      features: data.features,
      inactive: data.inactive,
      columns: jobColumns(data),
      preset: data.data.preset,
    });
    const rows = mem.rows();
    const asked = new Set(data.rows.map((r) => keyString(r.key)));
    const foreign = rows.find((r) => !asked.has(keyString(r)));
    if (foreign || rows.length !== asked.size)
      throw new JobRefused(
        `this worker computes other row keys than the coordinator (e.g. ${foreign ? keyString(foreign) : 'a missing row'}): ` +
          'different xspectra versions?',
      );
    return rows;
  } finally {
    mem.close();
  }
}

export interface WorkerPoolConfig {
  target: RedisTarget;
  resolve: Resolver;
  concurrency: number;
  /** job lock (ms): a job whose worker stops renewing it for this long is stalled and runs elsewhere */
  lockDurationMs: number;
  /** queue names; none: every registered sweep, discovered while running */
  names?: string[];
  log: (line: string) => void;
}

export interface WorkerPool {
  /** take no new jobs, wait for the running ones (force: abandon them; they stall and run elsewhere) */
  close(force?: boolean): Promise<void>;
  active(): number;
}

export function startWorkers(cfg: WorkerPoolConfig): WorkerPool {
  const workers = new Map<string, Worker<SweepJobData, string>>();
  let running = 0;
  let down = false;
  const onError = (e: Error) => {
    if (!down) cfg.log(`Redis at ${cfg.target.where}: ${e.message}; waiting and reconnecting`);
    down = true;
  };
  const start = (name: string) => {
    const w = new Worker<SweepJobData, string>(
      name,
      async (job) => {
        running++;
        if (down) {
          cfg.log(`Redis at ${cfg.target.where} is back`);
          down = false;
        }
        cfg.log(`start ${name} ${job.id} (${job.data.rows.length} rows, attempt ${job.attemptsMade + 1})`);
        try {
          const rows = await computeJob(job.data, cfg.resolve);
          cfg.log(`done ${name} ${job.id}`);
          // the rows as wire JSON: BullMQ's plain JSON would turn γ = ∞ into null
          return toWire(rows);
        } catch (e) {
          cfg.log(`failed ${name} ${job.id}: ${(e as Error).message}`);
          if (e instanceof JobRefused) throw new UnrecoverableError(e.message);
          throw e;
        } finally {
          running--;
        }
      },
      {
        connection: cfg.target.options,
        concurrency: cfg.concurrency,
        lockDuration: cfg.lockDurationMs,
        stalledInterval: cfg.lockDurationMs,
        maxStalledCount: 2,
      },
    );
    w.on('error', onError);
    workers.set(name, w);
    cfg.log(`serving ${name}`);
  };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let registry: ReturnType<typeof registryClient> | undefined;
  if (cfg.names?.length) for (const n of cfg.names) start(n);
  else {
    registry = registryClient(cfg.target, onError);
    const poll = async () => {
      try {
        const names = new Set(await registeredSweeps(registry!));
        for (const n of names) if (!workers.has(n)) start(n);
        // a finished sweep leaves the registry: stop serving its queue once idle
        for (const [n, w] of workers)
          if (!names.has(n)) {
            workers.delete(n);
            await w.close();
          }
      } catch (e) {
        onError(e as Error);
      }
      if (!closed) timer = setTimeout(poll, 1000);
    };
    void poll();
  }
  return {
    active: () => running,
    async close(force = false) {
      closed = true;
      clearTimeout(timer);
      await Promise.all([...workers.values()].map((w) => w.close(force)));
      registry?.disconnect();
    },
  };
}
