/**
 * The ONNX Runtime side of scripts/vgg16-conditioning.py: for a VGG16 export and an input, write
 * the max-pool winners and ReLU masks of xspectra's own float32 forward pass (the Indices and
 * masks its backward pass routes through) and xspectra's float32 gradient of a few classes, so
 * that the Python script can compare that gradient with the float64 gradient of the same
 * piecewise-linear region.
 *
 *   npx tsx bench/vgg16-ort-winners.ts vgg16.onnx x.npy OUTDIR 0,1,2,3,4,5
 *
 * writes OUTDIR/ort-pool{k}.npy (float32 flat per-sample indices, exact below 2²⁴),
 * OUTDIR/ort-relu{k}.npy (float32 0/1: output > 0, the mask the gradient uses) and
 * OUTDIR/ort-grad.npy ([K, 3, 224, 224] float32).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { loadModelFile } from '../src/model/load-file.js';
import { GraphBuilder } from '../src/propagate/builder.js';
import { emitForward, emitParams } from '../src/propagate/forward.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';

const [modelPath, xPath, out, classList] = process.argv.slice(2);
const model = loadModelFile(modelPath);
const x = parseNpy(readFileSync(xPath), xPath).data as Float32Array;
const classes = (classList ?? '0,1,2,3,4,5').split(',').map(Number);

const g = new GraphBuilder();
const xin = g.input({ name: 'x', dims: ['B', ...model.inputShape] });
const fwd = emitForward(g, model, xin, emitParams(g, model), true);
const pools = model.layers.filter((l) => l.op.type === 'maxpool');
pools.forEach((l, k) => {
  const shape = model.shapes.get(l.output)!;
  g.output(g.op('Cast', [fwd.indices.get(l.name)!], { to: 1 }), { as: `pool${k}`, dims: ['B', ...shape] });
});
const relus = model.layers.filter((l) => l.op.type === 'relu');
relus.forEach((l, k) => {
  const mask = g.op('Cast', [g.op('Greater', [fwd.values.get(l.output)!, g.floats([0])])], { to: 1 });
  g.output(mask, { as: `relu${k}`, dims: ['B', ...model.shapes.get(l.output)!] });
});
const engine = new NodeEngine();
const session = await engine.createSession(g.build('winners'));
const res = await session.run({ x: { dims: [1, ...model.inputShape], data: x } });
pools.forEach((_l, k) => {
  const t = res[`pool${k}`];
  writeFileSync(join(out, `ort-pool${k}.npy`), encodeNpy({ shape: t.dims, data: t.data }));
});
relus.forEach((_, k) => {
  const t = res[`relu${k}`];
  writeFileSync(join(out, `ort-relu${k}.npy`), encodeNpy({ shape: t.dims, data: t.data }));
});
await session.release();

const runner = new ModelRunner(model, engine);
const all = oneHotSeeds(runner.outputSize);
const c = runner.outputSize;
const seeds = new Float32Array(classes.length * c);
for (const [i, k] of classes.entries()) seeds.set(all.seeds.subarray(k * c, (k + 1) * c), i * c);
const { attributions } = await runner.backward('gradient', { mode: 'gradient' }, x, 1, seeds, classes.length);
writeFileSync(
  join(out, 'ort-grad.npy'),
  encodeNpy({ shape: [classes.length, ...model.inputShape], data: attributions }),
);
await runner.release();
console.log(
  `wrote ${pools.length} winner maps, ${relus.length} ReLU masks, ${classes.length} gradients to ${out}`,
);
