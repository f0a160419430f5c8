/**
 * Issue 16's check at full width (files from scripts/check-torchvision-full.py DIR): every
 * `<name>-opset{11,17}.onnx` loads and its all-class input gradient matches `<name>.grad.npy`
 * (float64 autograd); prints the max-relative error per class, and against every
 * `<name>.flip<k>.npy` (scripts/near-kinks.py: float64 with one near-zero ReLU switched); then
 * LRP epsilon-gamma-box: whether every map is finite, and the column sums (seed e_k) of the model
 * and of its bias-free version (1 up to the stabiliser: README, "Conservation").
 *
 *   npx tsx bench/torchvision-full.ts DIR
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpy } from '../src/io/npy.js';
import { oneHotSeeds } from '../src/methods/types.js';
import type { Model } from '../src/model/ir.js';
import { loadModelFile } from '../src/model/load-file.js';
import { assignRules, epsilonGammaBox } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';

const dir = process.argv[2];
for (const f of readdirSync(dir)
  .filter((n) => n.endsWith('.onnx'))
  .sort()) {
  const name = f.replace(/-opset\d+\.onnx$/, '');
  const x = parseNpy(readFileSync(join(dir, `${name}.x.npy`))).data as Float32Array;
  const ref = parseNpy(readFileSync(join(dir, `${name}.grad.npy`))).data as Float64Array;
  const t0 = performance.now();
  const runner = new ModelRunner(loadModelFile(join(dir, f)), new NodeEngine());
  const c = runner.outputSize;
  const d = runner.inputSize;
  const { seeds, K } = oneHotSeeds(c);
  const { attributions } = await runner.backward('gradient', { mode: 'gradient' }, x, 1, seeds, K);
  const worst = (r: ArrayLike<number>) => {
    let w = 0;
    for (let k = 0; k < c; k++) {
      let err = 0;
      let mx = 0;
      for (let i = 0; i < d; i++) {
        err = Math.max(err, Math.abs(attributions[k * d + i] - r[k * d + i]));
        mx = Math.max(mx, Math.abs(r[k * d + i]));
      }
      w = Math.max(w, err / mx);
    }
    return w;
  };
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${f}: max-relative error per class ${worst(ref).toExponential(2)} (${secs} s)`);
  for (let k = 0; existsSync(join(dir, `${name}.flip${k}.npy`)); k++) {
    const flip = parseNpy(readFileSync(join(dir, `${name}.flip${k}.npy`))).data as Float64Array;
    console.log(`  against float64 with near-zero ReLU flip${k} switched: ${worst(flip).toExponential(2)}`);
  }
  await runner.release();
  const bounds = { low: [Math.min(...x)], high: [Math.max(...x)] };
  const sums: string[] = [];
  for (const biasFree of [false, true]) {
    const model = loadModelFile(join(dir, f));
    if (biasFree) zeroBiases(model);
    const r = new ModelRunner(model, new NodeEngine());
    const pass = { mode: 'lrp' as const, rules: assignRules(model, epsilonGammaBox(0.25, bounds)) };
    const { attributions: a } = await r.backward('lrp', pass, x, 1, seeds, K);
    const col = Array.from({ length: c }, (_, k) =>
      a.subarray(k * d, (k + 1) * d).reduce((p, q) => p + q, 0),
    );
    const finite = a.every(Number.isFinite);
    sums.push(
      `${biasFree ? 'bias-free' : 'model'}: finite ${finite}, column sums ${Math.min(...col).toFixed(4)} … ${Math.max(...col).toFixed(4)}`,
    );
    await r.release();
  }
  console.log(`  LRP epsilon-gamma-box ${sums.join('; ')}`);
}

function zeroBiases(model: Model): void {
  for (const l of model.layers) {
    const op = l.op;
    const name =
      op.type === 'conv' || op.type === 'linear' ? op.bias : op.type === 'affine' ? op.shift : undefined;
    if (name) model.params.get(name)!.data.fill(0);
  }
}
