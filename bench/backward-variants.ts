/**
 * Benchmark: conv backward as a Conv with the transposed, flipped kernel (what the compiler emits
 * for stride-1 convs) against ConvTranspose with the same weights, on the same graphs, same run.
 * Run: npx tsx bench/backward-variants.ts [--skip-vgg 1]
 */
import { join } from 'node:path';
import { mnistTestDigit } from '../src/data/mnist.js';
import { oneHotSeeds } from '../src/methods/types.js';
import type { Model } from '../src/model/ir.js';
import { loadModelFile } from '../src/model/load-file.js';
import type { PassMode } from '../src/propagate/compile.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { arg, median, report } from './common.js';
import { randomVgg16 } from './vgg16.js';

async function compare(name: string, model: Model, x: Float32Array, K: number, runs: number) {
  const runner = new ModelRunner(model, new NodeEngine());
  const { seeds } = oneHotSeeds(
    runner.outputSize,
    Array.from({ length: K }, (_, i) => i % runner.outputSize),
  );
  const variants: [string, PassMode][] = [
    ['flipped-kernel Conv', { mode: 'gradient' }],
    ['ConvTranspose', { mode: 'gradient', convBackward: 'conv-transpose' }],
  ];
  const times: number[] = [];
  for (const [label, pass] of variants) {
    await runner.backward(label, pass, x, 1, seeds, K);
    times.push(await median(runs, () => runner.backward(label, pass, x, 1, seeds, K)));
  }
  process.stdout.write(`${name}, gradient for ${K} seeds\n`);
  report('  flipped-kernel Conv', times[0], times[0], 'flipped');
  report('  ConvTranspose', times[1], times[0], 'flipped');
}

const { x } = mnistTestDigit(0);
await compare(
  'MNIST paper CNN',
  loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx')),
  x,
  10,
  200,
);
await compare(
  'fixture mnist-cnn (32-64 channels)',
  loadModelFile(join(import.meta.dirname, '..', 'test', 'fixtures', 'models', 'mnist-cnn.onnx')),
  x,
  64,
  30,
);
if (!arg('skip-vgg', 0)) {
  const xv = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i));
  await compare('VGG16 random weights', randomVgg16(0), xv, 8, 3);
}
