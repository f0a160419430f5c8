/**
 * `xspectra reproduce imagenet`: the paper's ImageNet experiment end to end on a user's VGG16
 * export and a folder of photos, as a report folder. Registered as a subcommand of the
 * `reproduce` command (whose own action runs `reproduce mnist`).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { PACKAGE_ROOT } from '../api/node.js';
import { imagenetConfig, runImagenet, type SpectraMode } from '../experiments/reproduce-imagenet.js';
import { ResultStore } from '../experiments/store.js';
import { writeImagenetReport } from '../report/imagenet-report.js';
import { MATRIX_FREE_STARTS } from '../spectral/matrix-free.js';
import { num, openModel } from './common.js';
import { parseShard, resolveDataset } from './sweep.js';
import { COUNT, POSITIVE, SEED } from './validate.js';

export const DEFAULT_CLASSES = join(PACKAGE_ROOT, 'data', 'imagenet-classes.txt');

/** Class names, one per line; a file given explicitly must have one name per model output */
export function readClasses(file: string | undefined, outputs: number): { names?: string[]; source: string } {
  const path = file ?? DEFAULT_CLASSES;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--classes: cannot read ${path}: ${(e as Error).message}`);
  }
  const names = text.split(/\r?\n/).filter((l, i, all) => l.trim() !== '' || i < all.length - 1);
  if (names.length === outputs) return { names, source: path };
  if (file) throw new Error(`--classes ${file}: ${names.length} names, but the model has ${outputs} outputs`);
  return { source: `none (the shipped ${names.length} ImageNet names do not fit ${outputs} outputs)` };
}

export function registerReproduceImagenet(program: Command): void {
  const reproduce = program.commands.find((c) => c.name() === 'reproduce');
  if (!reproduce) throw new Error('internal: the reproduce command must be registered first');
  // `reproduce imagenet --images DIR` must not be parsed by `reproduce mnist`'s options: with
  // positional options each command parses only the options before its subcommand (the program's
  // own are just --version and --help)
  program.enablePositionalOptions();
  reproduce.enablePositionalOptions();
  reproduce
    .command('imagenet')
    .description(
      "the paper's ImageNet experiment: LRP (vgg16-paper) over γ, SmoothGrad×Input over noise, IG; PF (Telea r = 5), entropy; report",
    )
    .requiredOption('--model <file>', 'the VGG16 ONNX export (any C×H×W image classifier works)')
    .requiredOption('--images <dir>', 'folder of JPEG/PNG photos (sorted by name; the first --n are used)')
    .option('--n <count>', 'number of images (default 100, 5 with --quick)', num('--n', COUNT))
    .option('--classes <file>', 'class names, one per output (default: the shipped ImageNet-1k names)')
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider')
        .choices(['cpu', 'webgpu'])
        .default('cpu'),
    )
    .option('--threads <n>', 'intra-op threads', num('--threads', COUNT))
    .option(
      '--memory-budget <GiB>',
      'memory the whole process may use: weights, sessions, R and one run (default 4; sessions of settings that are done are released)',
      num('--memory-budget', POSITIVE),
    )
    .option(
      '--spill-dir <dir>',
      'where R goes when it does not fit the memory budget (default: the temp folder)',
    )
    .addOption(
      new Option('--spectra <mode>', 'exact R, matrix-free estimates, or auto (exact when c ≤ 2·block)')
        .choices(['exact', 'matrix-free', 'auto'])
        .default('auto'),
    )
    .option(
      '--tol-sigma1 <r>',
      'matrix-free: relative accuracy of σ1 to certify',
      num('--tol-sigma1', POSITIVE),
      1e-2,
    )
    .option(
      '--tol-frobenius <r>',
      'matrix-free: relative accuracy of ‖R‖_F to certify',
      num('--tol-frobenius', POSITIVE),
      2e-2,
    )
    .option('--block <b>', 'matrix-free: block size and columns per round', num('--block', COUNT), 8)
    .addOption(
      new Option('--mf-start <s>', 'matrix-free: columns (largest-weight columns first) or subspace')
        .choices(MATRIX_FREE_STARTS)
        .default('columns'),
    )
    .option('--quick', '5 images and a coarse grid (γ ∈ {0, 0.1, 1, ∞}, s ∈ {0.1, 0.3})')
    .option('--shapley', 'add Shapley value sampling over patches (left out in the paper)')
    .option('--patch <p>', 'Shapley: square patches of p×p pixels', num('--patch', COUNT), 16)
    .option(
      '--seed <s>',
      'seed of SmoothGrad noise, Shapley permutations and matrix-free probes',
      num('--seed', SEED),
      0,
    )
    .option(
      '--shard <i/n>',
      'scale out: run the i-th of n disjoint parts; merge the stores with `xspectra merge`',
    )
    .option('--out <dir>', 'report folder (holds the resumable results.sqlite)', 'reports/imagenet')
    .option('--no-progress', 'no progress bar')
    .action(async (o) => {
      const t0 = performance.now();
      if (!existsSync(o.images)) throw new Error(`--images ${o.images}: no such folder`);
      for (const [name, v] of [
        ['--tol-sigma1', o.tolSigma1],
        ['--tol-frobenius', o.tolFrobenius],
      ] as const)
        if (!(v > 0 && v < 1)) throw new Error(`${name} expects a relative accuracy in (0, 1), got ${v}`);
      const { runner, model, path } = await openModel({
        model: o.model,
        provider: o.provider,
        threads: o.threads,
        memoryBudget: o.memoryBudget,
        spillDir: o.spillDir,
        preprocess: 'imagenet',
      });
      if (model.inputShape.length !== 3 || model.inputShape[0] !== 3)
        throw new Error(
          `${path}: reproduce imagenet needs an RGB model (input 3×H×W), not [${model.inputShape}]`,
        );
      const cfg = imagenetConfig(!!o.quick, o.seed);
      if (o.n !== undefined) {
        if (!(Number.isInteger(o.n) && o.n >= 1))
          throw new Error(`--n expects a positive integer, got ${o.n}`);
        cfg.images = o.n;
      }
      cfg.spectra = o.spectra as SpectraMode;
      cfg.tolSigma1 = o.tolSigma1;
      cfg.tolFrobenius = o.tolFrobenius;
      cfg.block = o.block;
      cfg.start = o.mfStart;
      if (o.shapley) cfg.shapleyPatch = o.patch;
      const classes = readClasses(o.classes, runner.outputSize);
      const inputs = resolveDataset(o.images, model.inputShape, 'imagenet')
        .slice(0, cfg.images)
        .map((i) => ({ ...i, id: i.id.split(/[\\/]/).pop()! }));
      mkdirSync(o.out, { recursive: true });
      const store = new ResultStore(join(o.out, 'results.sqlite'));
      const bar = o.progress
        ? new SingleBar({
            format: 'reproduce imagenet {bar} {value}/{total} rows | resumed {skipped} | ETA {eta_formatted}',
            etaBuffer: 4,
          })
        : undefined;
      const stop = () => {
        bar?.stop();
        store.close();
        process.stderr.write('\ninterrupted: finished rows are stored; rerun the same command to resume\n');
        process.exit(130);
      };
      process.once('SIGINT', stop);
      try {
        let started = false;
        const r = await runImagenet({
          runner,
          inputs,
          cfg,
          store,
          shard: o.shard ? parseShard(o.shard) : undefined,
          onProgress: (done, total, skipped) => {
            if (!started) {
              started = true;
              bar?.start(total, 0, { skipped });
            }
            bar?.update(done, { skipped });
          },
        });
        bar?.stop();
        const seconds = (performance.now() - t0) / 1000;
        const ids = new Set(inputs.map((i) => i.id));
        const rows = store.rows({ modelHash: model.hash }).filter((row) => ids.has(row.inputId));
        const { table1 } = await writeImagenetReport({
          dir: o.out,
          rows,
          cfg,
          runner,
          modelPath: path,
          imagesDir: o.images,
          inputs,
          classes: classes.names,
          classesSource: classes.source,
          seconds,
          quick: !!o.quick,
        });
        process.stdout.write(`computed ${r.computed} rows, resumed ${r.skipped}, ${seconds.toFixed(0)} s\n`);
        for (const a of table1)
          process.stdout.write(
            `${a.method.padEnd(8)} ${a.paramName === 'none' ? ''.padEnd(14) : `${a.paramName}=${a.paramValue}`.padEnd(14)} SSM ${a.mean.ssm?.toFixed(4)}  PF-AUC ${a.mean.pfAuc?.toFixed(4)}  entropy ${a.mean.entropy?.toFixed(4)}\n`,
          );
        process.stdout.write(`report: ${join(o.out, 'index.html')} (and report.md)\n`);
      } finally {
        process.off('SIGINT', stop);
        store.close();
        await runner.release();
      }
    });
}
