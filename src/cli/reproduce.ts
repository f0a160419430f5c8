/** `xspectra reproduce mnist`: the paper's MNIST experiment end to end, as a report folder. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { reproduceConfig, runReproduce } from '../experiments/reproduce.js';
import { ResultStore } from '../experiments/store.js';
import { writeMnistReport } from '../report/mnist-report.js';
import { num, openModel } from './common.js';
import { resolveInputs } from './inputs.js';
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
      const { runner, model, path } = await openModel({
        model: o.model,
        provider: 'cpu',
        preprocess: 'mnist',
      });
      const cfg = reproduceConfig(!!o.quick, o.seed);
      if (o.images) cfg.images = o.images;
      const inputs = resolveInputs(`mnist:test:${cfg.images}`, model.inputShape, 'mnist');
      mkdirSync(o.out, { recursive: true });
      const store = new ResultStore(join(o.out, 'results.sqlite'));
      const bar = o.progress
        ? new SingleBar({
            format: 'reproduce {bar} {value}/{total} | resumed {skipped} | ETA {eta_formatted}',
          })
        : undefined;
      try {
        let total = 0;
        const r = await runReproduce(runner, inputs, cfg, store, (done, t, skipped) => {
          if (!total) {
            total = t;
            bar?.start(t, 0, { skipped });
          }
          bar?.update(done, { skipped });
        });
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
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
          seconds,
          quick: !!o.quick,
        });
        process.stdout.write(`computed ${r.computed} rows, resumed ${r.skipped}, ${seconds.toFixed(0)} s\n`);
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
