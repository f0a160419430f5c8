/** The `--queue` branch of `xspectra sweep`: plan the jobs, enqueue them, collect the rows. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { redisTarget } from '../experiments/queue/connection.js';
import { runQueuedSweep } from '../experiments/queue/coordinator.js';
import { planSweep } from '../experiments/queue/jobs.js';
import type { SweepConfig, SweepResult } from '../experiments/sweep.js';
import type { Progress } from './progress.js';

/** Workers open files by the coordinator's absolute paths (a shared filesystem, or the same layout) */
function absoluteData(spec: string): string {
  if (existsSync(spec)) return resolve(spec);
  const m = /^(.*?)(:\d+(?::\d+)?)$/.exec(spec);
  if (m && existsSync(m[1])) return resolve(m[1]) + m[2];
  return spec;
}

export async function queuedSweep(
  // biome-ignore lint/suspicious/noExplicitAny: commander option bag
  o: any,
  cfg: SweepConfig & { modelPath: string; bar?: Progress },
): Promise<SweepResult> {
  if (cfg.shard)
    throw new Error('--shard and --queue exclude each other (the queue balances the work itself)');
  const target = redisTarget(o.queue);
  const plan = planSweep({
    runner: cfg.runner,
    model: {
      path: resolve(cfg.modelPath),
      sha256: cfg.runner.model.hash,
      outputLayer: o.outputLayer,
      inputShape: o.inputShape,
      memoryBudget: o.memoryBudget,
    },
    data: { spec: absoluteData(o.data), preset: cfg.preset },
    inputs: cfg.inputs,
    points: cfg.points,
    store: cfg.store,
    features: cfg.features ?? 'pixels',
    inactive: cfg.inactive ?? 'zero',
    columns: cfg.columns,
    metrics: cfg.metrics,
    batch: o.batch,
    name: o.queueName,
  });
  const log = (line: string) => process.stderr.write(`\n${line}\n`);
  if (plan.missing.size > 0)
    log(
      `sweep queue ${plan.name} on ${target.where}: ${plan.jobs.length} jobs for ${plan.missing.size} rows`,
    );
  const r = await runQueuedSweep({
    target,
    plan,
    store: cfg.store,
    timeoutMs: o.redisTimeout * 1000,
    log,
    onProgress: (p) =>
      cfg.bar?.update(p.stored, plan.total, {
        skipped: p.skipped,
        extra: `workers ${p.workers}, running ${p.active}, waiting ${p.waiting}, failed ${p.failed}`,
      }),
  });
  if (r.failed.length > 0) {
    const lines = r.failed.map((f) => `  ${f.id} (${f.rows.join('; ')}): ${f.reason}`);
    throw new Error(
      `${r.failed.length} job(s) of ${r.queue} failed; ${r.computed} rows stored now, ${plan.total - plan.stored - r.computed} missing:\n` +
        `${lines.join('\n')}\nfix the cause and rerun the same command (failed jobs run again); ` +
        `xspectra queue status --queue ${o.queue} --name ${r.queue} lists them`,
    );
  }
  return { computed: r.computed, skipped: r.skipped, completed: 0, waited: 0 };
}
