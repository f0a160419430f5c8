/** `xspectra sweep`: a grid over one method parameter × a data set, into a resumable SQLite store. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { type Aggregate, aggregate, optimum, SCORES } from '../experiments/aggregate.js';
import { parseGrid } from '../experiments/grid.js';
import { ResultStore, toCsv } from '../experiments/store.js';
import { runSweep, type SweepInput, type SweepPoint } from '../experiments/sweep.js';
import { writeFileAtomic } from '../io/files.js';
import type { MethodSpec } from '../methods/factory.js';
import { addMethodOptions, addModelOptions, methodSpec, num, openModel } from './common.js';
import { fmt, table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { queuedSweep } from './sweep-queue.js';

export function resolveDataset(spec: string, shape: number[], preset: string): SweepInput[] {
  let isDir = false;
  try {
    isDir = statSync(spec).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) {
    const files = readdirSync(spec)
      .filter((f) => /\.(png|jpe?g|npy)$/i.test(f))
      .sort();
    if (files.length === 0) throw new Error(`${spec}: no PNG, JPEG or NPY files in the folder`);
    return files.flatMap((f) => resolveInputs(join(spec, f), shape, preset));
  }
  return resolveInputs(spec, shape, preset);
}

/** Grid points from the options: one swept parameter, or one point for parameter-free methods */
// biome-ignore lint/suspicious/noExplicitAny: commander option bag
export function gridPoints(o: any, base: MethodSpec): SweepPoint[] {
  const grids: [string, string | undefined][] = [
    ['gamma', o.gammaGrid ?? o.gammaList],
    ['noise', o.noiseGrid ?? o.noiseList],
    ['steps', o.stepsGrid],
    ['samples', o.samplesGrid],
  ];
  const given = grids.filter(([, v]) => v !== undefined);
  if (given.length > 1)
    throw new Error(`sweep one parameter at a time (got ${given.map(([n]) => n).join(' and ')})`);
  if (given.length === 0) return [{ spec: base, paramName: 'none', paramValue: 0 }];
  const [name, text] = given[0];
  return parseGrid(text!, `--${name}`).map((v) => ({
    spec: { ...base, [name]: v },
    paramName: name,
    paramValue: v,
  }));
}

export function aggregateTable(aggs: Aggregate[]): string {
  const rows = aggs.map((a) => [
    a.method,
    a.paramName === 'none' ? '-' : `${a.paramName}=${fmt(a.paramValue, 4)}`,
    a.n,
    ...(['ssm', 'stability', 'sensitivity', 'pfAuc', 'entropy'] as const).map((s) =>
      a.mean[s] === undefined ? '-' : `${fmt(a.mean[s]!, 4)} ± ${fmt(a.se[s]!, 2)}`,
    ),
  ]);
  return table(['method', 'parameter', 'n', 'SSM', 'stability', 'sensitivity', 'PF-AUC', 'entropy'], rows);
}

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('grid over a method parameter × a data set → resumable SQLite store, table, CSV');
  addModelOptions(cmd);
  addMethodOptions(cmd, { lists: true });
  cmd
    .option(
      '--data <set>',
      'mnist:test[:N] | mnist:test:FROM:TO | a folder of images | an NPY batch',
      'mnist:test:100',
    )
    .option('--gamma-grid <grid>', 'logspace:a,b,n or linspace:a,b,n')
    .option('--noise-grid <grid>', 'logspace:a,b,n or linspace:a,b,n')
    .option('--steps-grid <grid>', 'IG steps')
    .option('--samples-grid <grid>', 'SmoothGrad samples / Shapley permutations')
    .option('--metrics <list>', 'spectral scores are always computed; add pf, entropy', 'pf,entropy')
    .addOption(
      new Option('--features <mode>', 'pixels or elements').choices(['pixels', 'elements']).default('pixels'),
    )
    .addOption(
      new Option('--inactive <policy>', 'outputs with f_k ≤ 0')
        .choices(['zero', 'drop', 'keep'])
        .default('zero'),
    )
    .requiredOption('--db <file>', 'SQLite result store (created or resumed)')
    .option(
      '--shard <i/n>',
      'scale out: run the i-th of n disjoint parts (0-based); merge the stores with `xspectra merge`',
    )
    .option('--queue <url>', 'run the rows on `xspectra worker`s through Redis: redis://HOST:PORT[/db]')
    .option('--batch <n>', 'with --queue: rows per job', num('--batch'), 1)
    .option('--queue-name <name>', 'with --queue: queue name (default: from the grid)')
    .option(
      '--redis-timeout <s>',
      'with --queue: give up when Redis does not answer this long',
      num('--redis-timeout'),
      60,
    )
    .option('--csv <file>', 'export all rows of the store as CSV')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the aggregates as JSON')
    .action(async (o) => {
      const { runner, model, preset, path: modelPath } = openModel(o);
      const inputs = resolveDataset(o.data, model.inputShape, preset);
      // --gamma / --noise hold the swept lists; the base spec takes a number (each point overrides it)
      o.gammaList = o.gamma;
      o.noiseList = o.noise;
      o.gamma = o.gamma ? parseGrid(o.gamma, '--gamma')[0] : 0.25;
      o.noise = o.noise ? parseGrid(o.noise, '--noise')[0] : 0.1;
      const base = methodSpec(o, preset, model.inputShape);
      const points = gridPoints(o, base);
      const metrics = new Set(
        String(o.metrics)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
      for (const m of metrics)
        if (!['pf', 'entropy', 'ssm'].includes(m))
          throw new Error(`--metrics: unknown metric "${m}" (pf, entropy)`);
      const store = new ResultStore(o.db);
      const bar = o.progress
        ? new SingleBar({
            format: 'sweep {bar} {value}/{total} | skipped {skipped}{queue} | ETA {eta_formatted}',
          })
        : undefined;
      bar?.start(points.length * inputs.length, 0, { skipped: 0, queue: '' });
      const stop = () => {
        bar?.stop();
        store.close();
        process.stderr.write('\ninterrupted: finished rows are stored; rerun the same command to resume\n');
        process.exit(130);
      };
      process.once('SIGINT', stop);
      try {
        const sweepConfig = {
          runner,
          inputs,
          points,
          store,
          metrics: { pf: metrics.has('pf'), entropy: metrics.has('entropy') },
          features: o.features,
          inactive: o.inactive,
          preset,
          shard: o.shard ? parseShard(o.shard) : undefined,
          onProgress: (done: number, _t: number, skipped: number) => bar?.update(done, { skipped }),
        };
        const r = o.queue
          ? await queuedSweep(o, { ...sweepConfig, modelPath, bar })
          : await runSweep(sweepConfig);
        bar?.stop();
        const rows = store.rows({ modelHash: model.hash });
        if (o.csv) writeFileAtomic(o.csv, toCsv(store.rows()));
        const aggs = aggregate(rows);
        const optima = [...new Set(aggs.map((a) => a.method))].flatMap((m) =>
          SCORES.map((s) => ({ method: m, score: s, best: optimum(aggs, m, s) })).filter(
            (x) => x.best && x.best.paramName !== 'none',
          ),
        );
        if (o.json)
          process.stdout.write(
            `${toJson({ schema: 'xspectra.sweep/1', computed: r.computed, skipped: r.skipped, aggregates: aggs, optima })}\n`,
          );
        else {
          process.stdout.write(`computed ${r.computed}, skipped ${r.skipped} (already stored) → ${o.db}\n`);
          process.stdout.write(`${aggregateTable(aggs)}\n`);
          for (const x of optima)
            process.stdout.write(
              `best ${x.score} for ${x.method}: ${x.best!.paramName}=${fmt(x.best!.paramValue, 4)}\n`,
            );
        }
      } finally {
        process.off('SIGINT', stop);
        store.close();
        await runner.release();
      }
    });
}

export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new Error(`--shard expects i/n (e.g. 0/4), got "${text}"`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge sweep stores (e.g. shards from several machines) into one')
    .requiredOption('--db <file>', 'target store (created if missing)')
    .argument('<stores...>', 'source stores')
    .action((sources: string[], o) => {
      const store = new ResultStore(o.db);
      try {
        const r = store.merge(sources);
        process.stdout.write(
          `added ${r.added} rows, ${r.duplicates} already present, ${r.conflicts} conflicting (kept the target's)\n`,
        );
        if (r.conflicts > 0) process.exitCode = 3;
      } finally {
        store.close();
      }
    });
}
