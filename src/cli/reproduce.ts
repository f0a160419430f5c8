/** `xspectra reproduce mnist`: the paper's MNIST experiment end to end, as a report folder. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { ablationConfig, ablationParamsSet, runAblation } from '../experiments/ablation.js';
import { reproduceConfig, reproduceParams, runReproduce } from '../experiments/reproduce.js';
import { ResultStore } from '../experiments/store.js';
import { prepareOutput, writeFileAtomic } from '../io/files.js';
import { MAXPOOL_RULES } from '../propagate/maxpool-average.js';
import { writeMnistReport } from '../report/mnist-report.js';
import { num, openModel } from './common.js';
import { resolveInputs } from './inputs.js';
import { progress } from './progress.js';
import { COUNT, SEED } from './validate.js';

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description(
      "the paper's MNIST experiment: LRP over γ, SmoothGrad over noise, IG, Shapley; tables, figures, HTML report",
    )
    .argument('<experiment>', 'mnist')
    .option('--model <file>', 'ONNX model (default: the shipped paper MNIST CNN)')
    .option('--quick', '10 digits and a coarse grid')
    .option('--composite <name>', 'LRP composite of the γ sweep (see `xspectra rules --help`)', 'mnist-paper')
    .addOption(
      new Option('--maxpool-rule <rule>', 'LRP max-pool rule of the γ sweep')
        .choices(MAXPOOL_RULES)
        .default('wta'),
    )
    .option('--ablation', 'also run the ablation: composites × column choices × max-pool rules (default)')
    .option('--no-ablation', 'skip the ablation')
    .option('--images <n>', 'number of test digits (default 100, 10 with --quick)', num('--images', COUNT))
    .option('--seed <s>', 'seed of SmoothGrad noise and Shapley permutations', num('--seed', SEED), 0)
    .option('--out <dir>', 'report folder', 'reports/mnist')
    .option('--no-progress', 'no progress bar')
    .action(async (experiment: string, o) => {
      if (experiment !== 'mnist')
        throw new Error(
          `reproduce: unknown experiment "${experiment}" (mnist; ImageNet/VGG16 needs a user-supplied export: use sweep)`,
        );
      const t0 = performance.now();
      prepareOutput(o.out, '--out', { folder: true });
      const { runner, model, path } = await openModel({
        model: o.model,
        provider: 'cpu',
        preprocess: 'mnist',
      });
      const cfg = reproduceConfig(!!o.quick, o.seed);
      if (o.images) cfg.images = o.images;
      cfg.composite = o.composite;
      cfg.maxpoolRule = o.maxpoolRule;
      const ablation = o.ablation === false ? undefined : ablationConfig(!!o.quick, o.seed);
      const inputs = resolveInputs(`mnist:test:${cfg.images}`, model.inputShape, 'mnist');
      const store = new ResultStore(join(o.out, 'results.sqlite'));
      const bar = progress('reproduce', { enabled: o.progress });
      try {
        const r = await runReproduce(runner, inputs, cfg, store, (done, total, skipped) =>
          bar.update(done, total, { skipped }),
        );
        bar.stop();
        let ablationRun = { computed: 0, skipped: 0 };
        if (ablation) {
          const abar = progress('ablation', { enabled: o.progress });
          ablationRun = await runAblation(runner, inputs, ablation, store, (done, total, skipped) =>
            abar.update(done, total, { skipped }),
          );
          abar.stop();
        }
        const seconds = (performance.now() - t0) / 1000;
        const ids = new Set(inputs.map((i) => i.id));
        const stored = store.rows({ modelHash: model.hash }).filter((row) => ids.has(row.inputId));
        const main = reproduceParams(cfg);
        const rows = stored.filter((row) => main.has(row.params));
        const ablationKeys = ablation ? ablationParamsSet(ablation) : new Set<string>();
        const computed = r.computed + ablationRun.computed;
        // rows of this experiment already in the store before the run (shared rows count once)
        const resumed =
          stored.filter((row) => main.has(row.params) || ablationKeys.has(row.params)).length - computed;
        // the computation's wall time summed over every (resumed) run into this folder
        const runs = recordRun(join(o.out, 'runs.json'), {
          finished: new Date().toISOString(),
          seconds,
          computed,
          resumed,
        });
        const totalSeconds = runs.reduce((s, x) => s + x.seconds, 0);
        const { table1 } = await writeMnistReport({
          dir: o.out,
          rows,
          ablation: ablation && { cfg: ablation, rows: stored },
          cfg,
          runner,
          modelPath: path,
          example: inputs[0],
          seconds: totalSeconds,
          wallTime:
            runs.length > 1
              ? `wall time of the computation: ${totalSeconds.toFixed(0)} s over ${runs.length} runs (this run ${seconds.toFixed(0)} s: ${r.computed} rows computed, ${r.skipped} resumed)`
              : undefined,
          quick: !!o.quick,
        });
        process.stdout.write(
          `computed ${computed} rows, resumed ${resumed}, ${seconds.toFixed(0)} s (all runs: ${totalSeconds.toFixed(0)} s)\n`,
        );
        for (const a of table1) {
          process.stdout.write(
            `${a.method.padEnd(8)} ${a.paramName === 'none' ? '' : `${a.paramName}=${a.paramValue}`.padEnd(14)} SSM ${a.mean.ssm?.toFixed(4)}  PF-AUC ${a.mean.pfAuc?.toFixed(4)}  entropy ${a.mean.entropy?.toFixed(4)}\n`,
          );
        }
        process.stdout.write(`report: ${join(o.out, 'index.html')} (and report.md)\n`);
      } finally {
        store.close();
        await runner.release();
      }
    });
}

interface RunRecord {
  finished: string;
  seconds: number;
  computed: number;
  resumed: number;
}

/** Append this run to the folder's run log and return all runs (the report sums their times). */
function recordRun(file: string, run: RunRecord): RunRecord[] {
  let runs: RunRecord[] = [];
  if (existsSync(file)) {
    try {
      runs = JSON.parse(readFileSync(file, 'utf8')).runs;
    } catch (e) {
      throw new Error(`${file}: not a run log (${(e as Error).message}); delete it to start a new one`);
    }
  }
  runs.push(run);
  writeFileAtomic(file, `${JSON.stringify({ schema: 'xspectra.runs/1', runs }, null, 2)}\n`);
  return runs;
}
