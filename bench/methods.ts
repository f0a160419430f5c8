/**
 * Benchmark: per MNIST image, all 10 classes, SmoothGrad (n = 10), Integrated Gradients (m = 10)
 * and Shapley value sampling (25 permutations, 784 pixels) as ratios to one forward pass of the
 * same model in the same run. Run: npx tsx bench/methods.ts [--provider cpu|webgpu]
 */
import { join } from 'node:path';
import { mnistTestDigit } from '../src/data/mnist.js';
import { createMethod } from '../src/methods/factory.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { loadModelFile } from '../src/model/load-file.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { engineFromArgs, median, report } from './common.js';

const runner = new ModelRunner(
  loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx')),
  engineFromArgs(),
);
const { x } = mnistTestDigit(0);
const { seeds, K } = oneHotSeeds(10);
await runner.forward(x, 1);
const fwd = await median(200, () => runner.forward(x, 1));
process.stdout.write(
  `MNIST paper CNN (shipped), 1 image, all 10 classes, provider ${runner.engine.provider}\n`,
);
report('forward pass, batch 1', fwd, fwd, 'forward');
for (const [name, spec, runs] of [
  ['gradient', { method: 'gradient' as const }, 100],
  ['SmoothGrad×Input, n=10', { method: 'sg' as const, samples: 10, noise: 0.1, seed: 0 }, 50],
  ['Integrated Gradients, m=10', { method: 'ig' as const, steps: 10 }, 50],
  ['Shapley sampling, 25 permutations × 784 pixels', { method: 'shapley' as const, samples: 25, seed: 0 }, 3],
] as const) {
  const m = createMethod(runner, spec);
  await m.attribute(x, seeds, K);
  report(name, await median(runs, () => m.attribute(x, seeds, K)), fwd, 'forward');
}
