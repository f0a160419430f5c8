/**
 * Benchmark: all class attributions (LRP γ = 0.25) for one input, as a ratio to the same model's
 * single forward pass measured in the same run.
 *   MNIST: the shipped paper CNN, 10 classes.
 *   VGG16: random weights, 224×224, 1000 classes (vgg16-paper composite), chunked by the memory
 *          budget. `--vgg-classes N` times N classes instead (printed as such, not extrapolated).
 * Run: npx tsx bench/attribution.ts [--skip-vgg 1] [--vgg-classes N] [--provider cpu|webgpu]
 * (`--memory-budget GiB` sets the chunking budget, e.g. the GPU's memory; real-GPU numbers: README)
 */
import { join } from 'node:path';
import { mnistTestDigit } from '../src/data/mnist.js';
import { lrp } from '../src/methods/lrp.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { loadModelFile } from '../src/model/load-file.js';
import { gammaAll, vgg16Paper } from '../src/rules/composites.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { arg, engineFromArgs, median, report } from './common.js';
import { randomVgg16 } from './vgg16.js';

const engine = engineFromArgs();
{
  const runner = new ModelRunner(
    loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx')),
    engine,
  );
  const { x } = mnistTestDigit(0);
  const m = lrp(runner, gammaAll(0.25));
  const { seeds, K } = oneHotSeeds(10);
  await m.attribute(x, seeds, K); // session creation outside the timing
  await runner.forward(x, 1);
  const fwd = await median(200, () => runner.forward(x, 1));
  const all = await median(200, () => m.attribute(x, seeds, K));
  process.stdout.write(`MNIST paper CNN (shipped), 1 image, provider ${engine.provider}\n`);
  report('forward pass, batch 1', fwd, fwd, 'forward');
  report('LRP γ=0.25, all 10 classes', all, fwd, 'forward');
}
if (!arg('skip-vgg', 0)) {
  const model = randomVgg16(0);
  const runner = new ModelRunner(model, engine, { memoryBudget: arg('memory-budget', 2) * 1024 ** 3 });
  const rng = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 2);
  const classes = arg('vgg-classes', 1000);
  const m = lrp(runner, vgg16Paper(0.25, { low: [-2.1179, -2.0357, -1.8044], high: [2.2489, 2.4286, 2.64] }));
  const t0 = performance.now();
  await runner.forward(rng, 1);
  const tSession = performance.now() - t0;
  const fwd = await median(5, () => runner.forward(rng, 1));
  const t1 = performance.now();
  await m.attribute(rng, oneHotSeeds(1000, [0]).seeds, 1); // LRP session creation
  const tLrpSession = performance.now() - t1;
  const { seeds, K } = oneHotSeeds(
    1000,
    Array.from({ length: classes }, (_, i) => i),
  );
  const t2 = performance.now();
  await m.attribute(rng, seeds, K);
  const all = performance.now() - t2;
  process.stdout.write(
    `VGG16 random weights, 224×224, 1 image (chunks of ${runner.rowsPerRun()} seeds), provider ${engine.provider}\n`,
  );
  report('forward session creation', tSession, fwd, 'forward');
  report('LRP session creation', tLrpSession, fwd, 'forward');
  report('forward pass, batch 1', fwd, fwd, 'forward');
  report(`LRP vgg16-paper γ=0.25, ${classes} classes`, all, fwd, 'forward');
}
