/**
 * Benchmark: ONNX Runtime session options on the CPU — weight pre-packing on (ONNX Runtime's
 * default; NodeEngine's below 64 MB) against off (NodeEngine's above, e.g. VGG16). Both are measured in the same process on the same
 * sessions' graphs: session creation, then the median of repeated runs, printed as the ratio
 * off / on. MNIST: the shipped CNN's LRP pass session; VGG16: random weights, the vgg16-paper LRP
 * pass session (backward and forward-mode in one graph), 4 seeds per run.
 * Run: npx tsx bench/session-options.ts [--skip-vgg 1] [--runs N]
 */
import { join } from 'node:path';
import { mnistTestDigit } from '../src/data/mnist.js';
import { lrp } from '../src/methods/lrp.js';
import { oneHotSeeds } from '../src/methods/types.js';
import type { Model } from '../src/model/ir.js';
import { loadModelFile } from '../src/model/load-file.js';
import type { Composite } from '../src/rules/composites.js';
import { gammaAll, vgg16Paper } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { arg, median, skipVgg } from './common.js';
import { randomVgg16 } from './vgg16.js';

interface Row {
  what: string;
  ms: [number, number];
}

async function measure(
  model: Model,
  composite: Composite,
  x: Float32Array,
  K: number,
  runs: number,
  prepack: boolean,
): Promise<number[]> {
  const runner = new ModelRunner(model, new NodeEngine({ prepack }));
  const m = lrp(runner, composite);
  const c = runner.outputSize;
  const { seeds } = oneHotSeeds(
    c,
    Array.from({ length: K }, (_, i) => i % c),
  );
  const t0 = performance.now();
  await m.attribute(x, seeds, K); // session creation + first run
  const first = performance.now() - t0;
  const lp = m.linearPass;
  if (!lp) throw new Error('LRP has no linear pass');
  const fwd = await median(runs, () => runner.forward(x, 1, { passKey: lp.key, pass: lp.pass }));
  const bwd = await median(runs, () => m.attribute(x, seeds, K));
  await runner.release();
  return [first, fwd, bwd];
}

const rows: Row[] = [];
async function compare(
  name: string,
  model: Model,
  composite: Composite,
  x: Float32Array,
  K: number,
  runs: number,
) {
  const on = await measure(model, composite, x, K, runs, true);
  const off = await measure(model, composite, x, K, runs, false);
  const labels = ['session creation + first run', 'forward, batch 1', `LRP backward, ${K} seeds`];
  for (const [i, l] of labels.entries()) rows.push({ what: `${name}: ${l}`, ms: [on[i], off[i]] });
}

const mnist = loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx'));
await compare('MNIST', mnist, gammaAll(0.25), mnistTestDigit(0).x, 10, arg('runs', 50));
if (!skipVgg()) {
  const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 2);
  const comp = vgg16Paper(0.25, { low: [-2.1179, -2.0357, -1.8044], high: [2.2489, 2.4286, 2.64] });
  await compare('VGG16', randomVgg16(0), comp, x, 4, arg('vgg-runs', 3));
}
process.stdout.write(`${'case'.padEnd(50)} ${'prepack on'.padStart(12)} ${'off'.padStart(12)}   off/on\n`);
for (const { what, ms } of rows)
  process.stdout.write(
    `${what.padEnd(50)} ${`${ms[0].toFixed(1)} ms`.padStart(12)} ${`${ms[1].toFixed(1)} ms`.padStart(12)}   ${(ms[1] / ms[0]).toFixed(2)}\n`,
  );
