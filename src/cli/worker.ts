/**
 * `xspectra worker`, `xspectra collect`, `xspectra queue status`: the Redis/BullMQ side of
 * `sweep --queue` (see README, "Sweeps on a job queue").
 */
import { statSync } from 'node:fs';
import { type Command, Option as CommanderOption, type Option } from 'commander';
import { bounded, redisTarget, registeredSweeps, registryClient } from '../experiments/queue/connection.js';
import { collectFinished, type FailedJob, failedJobs, openQueue } from '../experiments/queue/coordinator.js';
import type { SweepJobData } from '../experiments/queue/jobs.js';
import { type Resolver, startWorkers } from '../experiments/queue/worker.js';
import { ResultStore } from '../experiments/store.js';
import type { SweepInput } from '../experiments/sweep.js';
import type { Model } from '../model/ir.js';
import type { ModelRunner } from '../runtime/runner.js';
import { num, openModel } from './common.js';
import { table, toJson } from './format.js';
import { resolveDataset } from './sweep.js';

/** A file's identity without reading it: a changed size or mtime means reload (and rehash) */
function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'none';
  }
}

/** Models and data sets from files, cached per worker process while their files are unchanged */
export function fileResolver(opts: { threads?: number; provider: 'cpu' | 'webgpu' }): Resolver & {
  release(): Promise<void>;
} {
  const models = new Map<string, { stamp: string; model: Model; runner: ModelRunner }>();
  const data = new Map<string, { stamp: string; inputs: SweepInput[] }>();
  return {
    async model(m: SweepJobData['model']) {
      const key = JSON.stringify([m.path, m.outputLayer, m.inputShape, m.memoryBudget]);
      const st = stamp(m.path);
      const hit = models.get(key);
      if (hit && hit.stamp === st) return hit;
      if (hit) void hit.runner.release();
      const opened = await openModel({
        model: m.path,
        outputLayer: m.outputLayer,
        inputShape: m.inputShape,
        memoryBudget: m.memoryBudget,
        provider: opts.provider,
        threads: opts.threads,
      });
      models.set(key, { stamp: st, ...opened });
      return opened;
    },
    inputs(spec, shape, preset) {
      const key = JSON.stringify([spec, shape, preset]);
      const st = stamp(spec.replace(/:\d+(:\d+)?$/, ''));
      const hit = data.get(key);
      if (hit && hit.stamp === st) return hit.inputs;
      const inputs = resolveDataset(spec, shape, preset);
      data.set(key, { stamp: st, inputs });
      return inputs;
    },
    async release() {
      for (const m of models.values()) await m.runner.release();
    },
  };
}

function queueOption(): Option {
  return new CommanderOption('--queue <url>', 'Redis URL: redis://HOST:PORT[/db]').makeOptionMandatory();
}

function names(text: string | undefined): string[] | undefined {
  return text
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('compute the rows of queued sweeps (`sweep --queue`) until SIGTERM / Ctrl-C')
    .addOption(queueOption())
    .option('--name <queues>', 'serve only these sweep queues (default: every registered sweep)')
    .option('--concurrency <n>', 'jobs at once in this process', num('--concurrency'), 1)
    .option('--threads <n>', 'intra-op threads of ONNX Runtime', num('--threads'))
    .addOption(
      new CommanderOption('--provider <name>', 'ONNX Runtime execution provider')
        .choices(['cpu', 'webgpu'])
        .default('cpu'),
    )
    .option(
      '--lock-duration <ms>',
      'job lock; a job whose worker is silent this long is stalled and runs elsewhere',
      num('--lock-duration'),
      30000,
    )
    .action(async (o) => {
      if (!(Number.isInteger(o.concurrency) && o.concurrency >= 1))
        throw new Error(`--concurrency expects a positive integer, got ${o.concurrency}`);
      const target = redisTarget(o.queue);
      const resolve = fileResolver({ threads: o.threads, provider: o.provider });
      const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      const pool = startWorkers({
        target,
        resolve,
        concurrency: o.concurrency,
        lockDurationMs: o.lockDuration,
        names: names(o.name),
        log,
      });
      log(`worker ${process.pid} on ${target.where}, concurrency ${o.concurrency}`);
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) {
            log(`${sig} again: abandoning running jobs (they stall and run on another worker)`);
            void pool.close(true).finally(done);
            return;
          }
          stopping = true;
          log(`${sig}: finishing ${pool.active()} running job(s), taking no new ones`);
          void pool.close().finally(done);
          // closing needs Redis; if it is away, do not hang: the jobs stall and run elsewhere
          setTimeout(() => {
            log(`not closed after ${o.lockDuration * 2} ms (Redis away?): leaving; running jobs will stall`);
            done();
          }, o.lockDuration * 2).unref();
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      await resolve.release();
      log('worker stopped');
    });
}

/** Run `f` on each queue a command looks at (--name, or every registered sweep), Redis bounded */
async function eachQueue(
  o: { queue: string; name?: string },
  f: (name: string, q: ReturnType<typeof openQueue>) => Promise<void>,
): Promise<void> {
  const target = redisTarget(o.queue);
  let lastError: string | undefined;
  const onError = (e: Error) => {
    lastError = e.message;
  };
  const step = <T>(p: Promise<T>) => bounded(p, 30_000, target, () => lastError);
  let queues = names(o.name) ?? [];
  if (queues.length === 0) {
    const r = registryClient(target, onError);
    try {
      queues = await step(registeredSweeps(r));
    } finally {
      r.disconnect();
    }
  }
  if (queues.length === 0) process.stdout.write(`no sweep queues on ${target.where}\n`);
  for (const name of queues) {
    const q = openQueue(name, target, onError);
    try {
      await step(f(name, q));
    } finally {
      await q.disconnect();
    }
  }
}

export function registerCollect(program: Command): void {
  program
    .command('collect')
    .description('store the rows of finished queue jobs (what `sweep --queue` does while it runs)')
    .addOption(queueOption())
    .requiredOption('--db <file>', 'SQLite result store')
    .option('--name <queues>', 'sweep queues (default: every registered sweep)')
    .action(async (o) => {
      const store = new ResultStore(o.db);
      try {
        await eachQueue(o, async (name, q) => {
          const r = await collectFinished(q, store);
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
          process.stdout.write(
            `${name}: stored ${r.inserted} rows, ${r.duplicates} already present, ${r.rejected} rejected; ` +
              `${c.waiting + c.delayed} waiting, ${c.active} running, ${c.failed} failed\n`,
          );
        });
      } finally {
        store.close();
      }
    });
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('inspect the job queues of sweeps');
  queue
    .command('status')
    .description('jobs per state, connected workers and failed jobs with their reasons')
    .addOption(queueOption())
    .option('--name <queues>', 'sweep queues (default: every registered sweep)')
    .option('--json', 'JSON output')
    .action(async (o) => {
      const out: { name: string; counts: Record<string, number>; workers: number; failed: FailedJob[] }[] =
        [];
      await eachQueue(o, async (name, q) => {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
        out.push({ name, counts, workers: await q.getWorkersCount(), failed: await failedJobs(q, 50) });
      });
      const target = redisTarget(o.queue);
      if (o.json) {
        process.stdout.write(
          `${toJson({ schema: 'xspectra.queue-status/1', redis: target.where, queues: out })}\n`,
        );
        return;
      }
      for (const s of out) {
        process.stdout.write(
          `${s.name}: ${s.counts.waiting + s.counts.delayed} waiting, ${s.counts.active} running, ` +
            `${s.counts.completed} finished (not yet stored), ${s.counts.failed} failed; ${s.workers} workers\n`,
        );
        if (s.failed.length)
          process.stdout.write(
            `${table(
              ['job', 'rows', 'attempts', 'reason'],
              s.failed.map((f) => [f.id, f.rows.join('; '), f.attempts, f.reason]),
            )}\n`,
          );
      }
    });
}
