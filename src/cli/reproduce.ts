/** `xspectra reproduce mnist`: the paper's MNIST experiment end to end, as a report folder. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { reproduceConfig, runReproduce } from '../experiments/reproduce.js';
import { ResultStore } from '../experiments/store.js';
import { writeFileAtomic } from '../io/files.js';
import { writeMnistReport } from '../report/mnist-report.js';
import { num, openModel } from './common.js';
import { resolveInputs } from './inputs.js';
import { progress } from './progress.js';

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description(
      "the paper's MNIST experiment: LRP over γ, SmoothGrad over noise, IG, Shapley; tables, figures, HTML report",
    )
    .argument('<experiment>', 'mnist')
    .option('--model <file>', 'ONNX model (default: the shipped paper MNIST CNN)')
    .option('--quick', '10 digits and a coarse grid')
    .option('--images <n>', 'number of test digits (default 100, 10 with --quick)', num('--images'))
    .option('--seed <s>', 'seed of SmoothGrad noise and Shapley permutations', num('--seed'), 0)
    .option('--out <dir>', 'report folder', 'reports/mnist')
    .option('--no-progress', 'no progress bar')
    .action(async (experiment: string, o) => {
      if (experiment !== 'mnist')
        throw new Error(
          `reproduce: unknown experiment "${experiment}" (mnist; ImageNet/VGG16 needs a user-supplied export: use sweep)`,
        );
      const t0 = performance.now();
      const { runner, model, path } = openModel({ model: o.model, provider: 'cpu', preprocess: 'mnist' });
      const cfg = reproduceConfig(!!o.quick, o.seed);
      if (o.images) cfg.images = o.images;
      const inputs = resolveInputs(`mnist:test:${cfg.images}`, model.inputShape, 'mnist');
      mkdirSync(o.out, { recursive: true });
      const store = new ResultStore(join(o.out, 'results.sqlite'));
      const bar = progress('reproduce', { enabled: o.progress });
      try {
        const r = await runReproduce(runner, inputs, cfg, store, (done, total, skipped) =>
          bar.update(done, total, { skipped }),
        );
        bar.stop();
        const seconds = (performance.now() - t0) / 1000;
        // the computation's wall time summed over every (resumed) run into this folder
        const runs = recordRun(join(o.out, 'runs.json'), {
          finished: new Date().toISOString(),
          seconds,
          computed: r.computed,
          resumed: r.skipped,
        });
        const totalSeconds = runs.reduce((s, x) => s + x.seconds, 0);
        const rows = store
          .rows({ modelHash: model.hash })
          .filter((row) => inputs.some((i) => i.id === row.inputId));
        const { table1 } = await writeMnistReport({
          dir: o.out,
          rows,
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
          `computed ${r.computed} rows, resumed ${r.skipped}, ${seconds.toFixed(0)} s (all runs: ${totalSeconds.toFixed(0)} s)\n`,
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
