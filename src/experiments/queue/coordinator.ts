/**
 * Node-only: the coordinating side of a queued sweep. It enqueues the jobs of the rows the store
 * lacks into a BullMQ queue, takes the rows of finished jobs back into the SQLite store (each at
 * most once: the store's primary key decides, so a job that ran twice after a stall adds nothing),
 * removes those jobs only after their rows are stored, and ends when every row is stored — or when
 * nothing is left to run but failed jobs, whose reasons it reports.
 */
import { type Job, Queue } from 'bullmq';
import type { ResultRow, ResultStore } from '../store.js';
import { bounded, REGISTRY_KEY, type RedisTarget, registryClient } from './connection.js';
import {
  fromWire,
  keyString,
  type PlannedJob,
  type SweepJobData,
  type SweepPlan,
  type WirePoint,
} from './jobs.js';

/** Jobs return their rows as wire JSON (jobs.ts: toWire) */
export type SweepQueue = Queue<SweepJobData, string>;

export interface QueueProgress {
  stored: number;
  total: number;
  skipped: number;
  active: number;
  waiting: number;
  failed: number;
  workers: number;
}

export interface FailedJob {
  id: string;
  rows: string[];
  reason: string;
  attempts: number;
}

/** Bounded retries with exponential backoff; finished jobs stay until their rows are stored */
const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: false,
  removeOnFail: false,
} as const;

export function openQueue(name: string, target: RedisTarget, onError: (e: Error) => void): SweepQueue {
  const q: SweepQueue = new Queue(name, { connection: target.options, defaultJobOptions: JOB_OPTIONS });
  q.on('error', onError);
  return q;
}

/** Add the planned jobs that the queue does not hold; with `retryFailed`, failed ones run again */
async function enqueue(queue: SweepQueue, jobs: PlannedJob[], retryFailed: boolean): Promise<void> {
  const fresh: PlannedJob[] = [];
  for (const j of jobs) {
    const existing = await queue.getJob(j.id);
    if (!existing) fresh.push(j);
    else if (retryFailed && (await existing.isFailed())) await existing.retry('failed');
  }
  for (let i = 0; i < fresh.length; i += 500)
    await queue.addBulk(
      fresh
        .slice(i, i + 500)
        .map((j) => ({ name: 'rows', data: j.data, opts: { ...JOB_OPTIONS, jobId: j.id } })),
    );
}

export interface Collected {
  inserted: number;
  duplicates: number;
  /** rows a worker returned that its job did not ask for (never stored) */
  rejected: number;
}

/**
 * Store the rows of finished jobs, then remove the jobs. Only rows whose key the job asked for are
 * accepted, so a worker on another code version cannot write foreign rows into the store.
 */
export async function collectFinished(
  queue: SweepQueue,
  store: ResultStore,
  onStored: (key: string) => void = () => {},
): Promise<Collected> {
  const out: Collected = { inserted: 0, duplicates: 0, rejected: 0 };
  for (;;) {
    const done: Job<SweepJobData, string>[] = await queue.getJobs(['completed'], 0, 199, true);
    if (done.length === 0) return out;
    for (const job of done) {
      if (!job) continue;
      const asked = new Set(job.data.rows.map((r) => keyString(r.key)));
      for (const row of job.returnvalue ? fromWire<ResultRow[]>(job.returnvalue) : []) {
        const k = keyString(row);
        if (!asked.has(k)) {
          out.rejected++;
          continue;
        }
        if (store.insertIfAbsent(row)) out.inserted++;
        else out.duplicates++;
        onStored(k);
      }
      await job.remove();
    }
  }
}

export async function failedJobs(queue: SweepQueue, limit = 20): Promise<FailedJob[]> {
  const failed = await queue.getFailed(0, limit - 1);
  return failed
    .filter((j) => j)
    .map((j) => {
      const p = fromWire<WirePoint>(j.data.point);
      return {
        id: j.id ?? '?',
        rows: j.data.rows.map((r) => `${r.id} ${p.paramName}=${p.paramValue}`),
        reason: j.failedReason,
        attempts: j.attemptsMade,
      };
    });
}

export interface QueuedSweepConfig {
  target: RedisTarget;
  plan: SweepPlan;
  store: ResultStore;
  /** fail with a clear message when Redis does not answer for this long (ms) */
  timeoutMs: number;
  pollMs?: number;
  onProgress?: (p: QueueProgress) => void;
  /** notices (Redis lost / back), one line each */
  log?: (line: string) => void;
}

export async function runQueuedSweep(
  cfg: QueuedSweepConfig,
): Promise<{ computed: number; skipped: number; failed: FailedJob[]; queue: string }> {
  const { plan, store, target } = cfg;
  const log = cfg.log ?? (() => {});
  let lastError: string | undefined;
  let down = false;
  const onError = (e: Error) => {
    lastError = e.message;
    if (!down) log(`Redis at ${target.where}: ${e.message}; waiting and reconnecting`);
    down = true;
  };
  const queue = openQueue(plan.name, target, onError);
  const registry = registryClient(target, onError);
  const step = <T>(p: Promise<T>) => bounded(p, cfg.timeoutMs, target, () => lastError);
  const missing = new Set(plan.missing);
  let computed = 0;
  let refills = 0;
  try {
    await step(registry.sadd(REGISTRY_KEY, plan.name));
    await step(enqueue(queue, plan.jobs, true));
    for (;;) {
      // (re)register every round: a Redis that restarted empty lost the registry, and workers
      // without --name serve only registered sweeps
      await step(registry.sadd(REGISTRY_KEY, plan.name));
      const got = await step(
        collectFinished(queue, store, (k) => {
          if (missing.delete(k)) computed++;
        }),
      );
      if (down) {
        log(`Redis at ${target.where} is back`);
        down = false;
      }
      const c = await step(
        queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
      );
      const pending = c.waiting + c.active + c.delayed + c.prioritized;
      const workers = await step(queue.getWorkersCount());
      cfg.onProgress?.({
        stored: plan.total - missing.size,
        total: plan.total,
        skipped: plan.stored,
        active: c.active,
        waiting: c.waiting + c.delayed + c.prioritized,
        failed: c.failed,
        workers,
      });
      if (missing.size === 0) break;
      if (pending === 0 && c.failed > 0) {
        return { computed, skipped: plan.stored, failed: await step(failedJobs(queue)), queue: plan.name };
      }
      if (got.inserted > 0) refills = 0;
      // every job is in one of the counted states until we remove it, so none at all means lost
      if (pending === 0 && c.failed === 0 && c.completed === 0 && got.inserted + got.duplicates === 0) {
        // rows missing and no job for them: Redis lost its data (restarted without persistence) or
        // a worker returned rows its job did not ask for; enqueue the missing rows again
        if (++refills > 3)
          throw new Error(
            `${missing.size} rows are still missing after enqueueing them 4 times without progress (${got.rejected} foreign rows rejected)`,
          );
        log(`${missing.size} rows have no job in ${plan.name} (Redis lost its data?): enqueueing them again`);
        await step(
          enqueue(
            queue,
            plan.jobs.filter((j) => j.data.rows.some((r) => missing.has(keyString(r.key)))),
            false,
          ),
        );
      }
      await new Promise((r) => setTimeout(r, cfg.pollMs ?? 300));
    }
    // every row is stored: the queue has served its purpose
    await step(queue.obliterate({ force: true }));
    await step(registry.srem(REGISTRY_KEY, plan.name));
    return { computed, skipped: plan.stored, failed: [], queue: plan.name };
  } finally {
    // nothing to wait for (the queue has no workers of its own): drop the connections; with Redis
    // away even that can wait for the reconnection, so bound it
    await Promise.race([queue.disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
    registry.disconnect();
  }
}
