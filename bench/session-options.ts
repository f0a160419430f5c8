/**
 * Benchmark: ONNX Runtime session options on the CPU, measured in the same process on the same
 * graphs — weight pre-packing on (ONNX Runtime's default; NodeEngine's up to 64 MB) or off
 * (NodeEngine's above, e.g. VGG16), and weights inline in the graph's bytes or in a weight file as
 * external data (NodeEngine's above 64 MB): compiling, creating the session and its first run, then
 * the median of repeated runs, with ratios to the first setting. MNIST: the shipped CNN's LRP pass session; VGG16: random weights, the vgg16-paper LRP
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
import { NodeEngine, type NodeEngineOptions } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { arg, median, skipVgg } from './common.js';
import { randomVgg16 } from './vgg16.js';

/** the settings compared, the first being the baseline of the ratios */
const SETTINGS: [string, NodeEngineOptions][] = [
  ['prepack, inline', { prepack: true, externalWeights: false }],
  ['no prepack, inline', { prepack: false, externalWeights: false }],
  ['no prepack, weight file', { prepack: false, externalWeights: true }],
];

interface Row {
  what: string;
  ms: number[];
}

async function measure(
  model: Model,
  composite: Composite,
  x: Float32Array,
  K: number,
  runs: number,
  options: NodeEngineOptions,
): Promise<number[]> {
  const runner = new ModelRunner(model, new NodeEngine(options));
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
  const ms: number[][] = [];
  for (const [, options] of SETTINGS) ms.push(await measure(model, composite, x, K, runs, options));
  const labels = ['compile + session + first run', 'forward, batch 1', `LRP backward, ${K} seeds`];
  for (const [i, l] of labels.entries()) rows.push({ what: `${name}: ${l}`, ms: ms.map((m) => m[i]) });
}

const mnist = loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx'));
await compare('MNIST', mnist, gammaAll(0.25), mnistTestDigit(0).x, 10, arg('runs', 50));
if (!skipVgg()) {
  const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 2);
  const comp = vgg16Paper(0.25, { low: [-2.1179, -2.0357, -1.8044], high: [2.2489, 2.4286, 2.64] });
  await compare('VGG16', randomVgg16(0), comp, x, 4, arg('vgg-runs', 3));
}
process.stdout.write(`${'case'.padEnd(44)}${SETTINGS.map(([n]) => n.padStart(26)).join('')}\n`);
for (const { what, ms } of rows)
  process.stdout.write(
    `${what.padEnd(44)}${ms.map((v) => `${v.toFixed(1)} ms (${(v / ms[0]).toFixed(2)}×)`.padStart(26)).join('')}\n`,
  );
