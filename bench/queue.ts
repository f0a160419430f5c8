/**
 * Benchmark: rows per second of a sweep on the job queue (BullMQ on a local Redis started here)
 * with 1 and 2 `xspectra worker` processes (intra-op threads 1), against the single-process sweep
 * (threads 1) of the same grid in the same run. Each figure is the wall time of the whole `sweep`
 * command (process start, model load, planning, all rows); workers are started before it.
 * Run: npm run build && npx tsx bench/queue.ts [--digits 24] [--batch 4]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../test/helpers/redis.js';
import { arg } from './common.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'xspectra.js');
const digits = arg('digits', 24);
const batch = arg('batch', 4);
const gammas = '0,0.25,1,inf';
const rowsTotal = digits * 4;
const tmp = mkdtempSync(join(tmpdir(), 'xspectra-bench-queue-'));

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err += String(d);
    });
    p.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`xspectra ${args[0]} exited ${code}: ${err}`)),
    );
  });
}

async function timedSweep(db: string, extra: string[]): Promise<number> {
  const t0 = performance.now();
  await run([
    'sweep',
    '--data',
    `mnist:test:${digits}`,
    '--gamma',
    gammas,
    '--threads',
    '1',
    '--no-progress',
    '--db',
    join(tmp, db),
    ...extra,
  ]);
  return performance.now() - t0;
}

const redis = await startRedis();
const line = (name: string, ms: number, base: number) =>
  process.stdout.write(
    `${name.padEnd(36)} ${(ms / 1000).toFixed(1).padStart(7)} s ${(rowsTotal / (ms / 1000)).toFixed(2).padStart(8)} rows/s ${(base / ms).toFixed(2).padStart(6)} × single\n`,
  );
try {
  process.stdout.write(
    `sweep: LRP γ ∈ {${gammas}} × ${digits} MNIST test digits = ${rowsTotal} rows (scores, PF, entropy), ` +
      `${cpus().length} cores, queue jobs of ${batch} rows\n`,
  );
  const single = await timedSweep('single.sqlite', []);
  line('single process (threads 1)', single, single);
  for (const n of [1, 2]) {
    const workers: ChildProcess[] = Array.from({ length: n }, () =>
      spawn(process.execPath, [BIN, 'worker', '--queue', redis.url, '--threads', '1'], { stdio: 'ignore' }),
    );
    try {
      const ms = await timedSweep(`queue${n}.sqlite`, ['--queue', redis.url, '--batch', String(batch)]);
      line(`queue, ${n} worker${n > 1 ? 's' : ''} (threads 1)`, ms, single);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(
        workers.map((w) => new Promise((r) => (w.exitCode === null ? w.on('exit', r) : r(null)))),
      );
    }
  }
} finally {
  await redis.stop();
}
