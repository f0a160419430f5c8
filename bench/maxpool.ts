/**
 * Benchmark: max-pool backward and forward mode with MaxPool's Indices (ScatterElements /
 * GatherElements) against the window form without Indices (one-hot unfold, winner mask, fold;
 * propagate/maxpool.ts), on the same graphs, same run, CPU provider unless --provider webgpu.
 * Run: npx tsx bench/maxpool.ts [--skip-vgg 1] [--provider webgpu]
 */
import { join } from 'node:path';
import { mnistTestDigit } from '../src/data/mnist.js';
import { oneHotSeeds } from '../src/methods/types.js';
import type { Model } from '../src/model/ir.js';
import { loadModelFile } from '../src/model/load-file.js';
import type { MaxPoolForm } from '../src/propagate/maxpool.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { engineFromArgs, median, report, skipVgg } from './common.js';
import { randomVgg16 } from './vgg16.js';

const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures');

async function compare(name: string, model: Model, x: Float32Array, K: number, runs: number) {
  const runner = new ModelRunner(model, engineFromArgs());
  const d = runner.inputSize;
  const { seeds } = oneHotSeeds(
    runner.outputSize,
    Array.from({ length: K }, (_, i) => i % runner.outputSize),
  );
  const tangents = Float32Array.from({ length: K * d }, (_, i) => Math.sin(i * 0.37));
  const forms: MaxPoolForm[] = runner.engine.provider === 'cpu' ? ['indices', 'window'] : ['window'];
  const bwd: number[] = [];
  const fm: number[] = [];
  for (const form of forms) {
    const pass = { mode: 'gradient' as const, maxPool: form };
    await runner.backward(form, pass, x, 1, seeds, K);
    bwd.push(await median(runs, () => runner.backward(form, pass, x, 1, seeds, K)));
    await runner.forwardMode(form, pass, x, tangents, K);
    fm.push(await median(runs, () => runner.forwardMode(form, pass, x, tangents, K)));
  }
  process.stdout.write(`${name}, ${K} seeds / tangents, ${runner.engine.provider}\n`);
  forms.forEach((f, i) => {
    report(`  backward, ${f}`, bwd[i], bwd[0], forms[0]);
    report(`  forward mode, ${f}`, fm[i], fm[0], forms[0]);
  });
  await runner.release();
}

const { x } = mnistTestDigit(0);
await compare(
  'MNIST paper CNN (2×2/2 pools)',
  loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx')),
  x,
  10,
  100,
);
await compare(
  'fixture mnist-cnn (32-64 channels, 2×2/2 pools)',
  loadModelFile(join(FIXTURES, 'models', 'mnist-cnn.onnx')),
  x,
  64,
  20,
);
const resnet = loadModelFile(join(FIXTURES, 'extra', 'resnet-maxpool.onnx'));
await compare(
  'fixture resnet-maxpool (3×3/2 p1 stem pool)',
  resnet,
  Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.cos(i * 0.11)),
  10,
  20,
);
if (!skipVgg()) {
  const xv = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i));
  await compare('VGG16 random weights (2×2/2 pools)', randomVgg16(0), xv, 8, 3);
}
