/** `xspectra sweep`: a grid over one method parameter × a data set, into a resumable SQLite store. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type Aggregate, aggregate, optimum, SCORES } from '../experiments/aggregate.js';
import { parseGrid } from '../experiments/grid.js';
import { mergeStores, ResultStore, toCsv } from '../experiments/store.js';
import { runSweep, type SweepInput, type SweepPoint } from '../experiments/sweep.js';
import { prepareOutput, writeFileAtomic } from '../io/files.js';
import type { MethodSpec } from '../methods/factory.js';
import {
  addMethodOptions,
  addModelOptions,
  budgetOf,
  columnsOption,
  methodSpec,
  num,
  openModel,
} from './common.js';
import { fmt, table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { progress } from './progress.js';
import { queuedSweep } from './sweep-queue.js';
import { COUNT, checkNumber, GAMMA, NOISE, type NumberRule, OptionError, parseNameList } from './validate.js';

export function resolveDataset(spec: string, shape: number[], preset: string, budget?: number): SweepInput[] {
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
    return files.flatMap((f) => resolveInputs(join(spec, f), shape, preset, budget));
  }
  return resolveInputs(spec, shape, preset, budget);
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
  const flag = `--${name}${o[`${name}Grid`] !== undefined ? '-grid' : ''}`;
  // a grid point costs at least a stored row and its sweep state: about 1 KiB of the budget
  const budget = budgetOf(o);
  const values = parseGrid(text!, flag, Math.max(1, Math.floor(budget / 1024)));
  for (const v of values) checkNumber(flag, v, GRID_RULES[name]);
  return values.map((v) => ({
    spec: { ...base, [name]: v },
    paramName: name,
    paramValue: v,
  }));
}

/** Valid values of each swept parameter (as the single-value options) */
const GRID_RULES: Record<string, NumberRule> = { gamma: GAMMA, noise: NOISE, steps: COUNT, samples: COUNT };

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
    .addOption(columnsOption())
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
      const metrics = parseNameList('--metrics', o.metrics, ['pf', 'entropy', 'ssm']);
      const shard = o.shard ? parseShard(o.shard) : undefined;
      prepareOutput(o.db, '--db');
      if (o.csv) prepareOutput(o.csv, '--csv');
      const { runner, model, preset, path: modelPath } = await openModel(o);
      const inputs = resolveDataset(o.data, model.inputShape, preset, budgetOf(o));
      // --gamma / --noise hold the swept lists; the base spec takes a number (each point overrides it)
      o.gammaList = o.gamma;
      o.noiseList = o.noise;
      o.gamma = o.gamma ? parseGrid(o.gamma, '--gamma')[0] : 0.25;
      o.noise = o.noise ? parseGrid(o.noise, '--noise')[0] : 0.1;
      const base = methodSpec(o, preset, model.inputShape);
      const points = gridPoints(o, base);
      const store = new ResultStore(o.db);
      const bar = progress('sweep', { enabled: o.progress });
      const stop = () => {
        bar.stop();
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
          columns: o.columns,
          preset,
          shard,
          onProgress: (done: number, total: number, skipped: number) => bar.update(done, total, { skipped }),
        };
        const r = o.queue
          ? await queuedSweep(o, { ...sweepConfig, modelPath, bar })
          : await runSweep(sweepConfig);
        bar.stop();
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
          process.stdout.write(
            `computed ${r.computed}, skipped ${r.skipped} (already stored)${r.completed ? `, completed the metrics of ${r.completed}` : ''}${r.waited ? `, ${r.waited} computed by a concurrent sweep` : ''} → ${o.db}\n`,
          );
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
  if (!m) throw new OptionError(`--shard expects i/n (e.g. 0/4), got "${text}"`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (!(count >= 1 && index < count && Number.isSafeInteger(count)))
    throw new OptionError(`--shard ${text}: need n ≥ 1 and 0 ≤ i < n`);
  return { index, count };
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge sweep stores (e.g. shards from several machines) into one')
    .requiredOption('--db <file>', 'target store (created if missing)')
    .argument('<stores...>', 'source stores')
    .action((sources: string[], o) => {
      prepareOutput(o.db, '--db');
      const r = mergeStores(o.db, sources);
      process.stdout.write(
        `added ${r.added} rows, ${r.duplicates} already present, ${r.conflicts} conflicting (kept the target's)\n`,
      );
      if (r.conflicts > 0) {
        process.stderr.write(`xspectra: ${r.conflicts} conflicting rows (same key, different numbers)\n`);
        process.exitCode = 3;
      }
    });
}
