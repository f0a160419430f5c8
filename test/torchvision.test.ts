/**
 * Torchvision classifiers exported by torch.onnx.export (scripts/make-torchvision-fixtures.py:
 * reduced widths, 64×64, 20 classes, random weights and BN statistics) against float64 autograd:
 * every export loads, its all-class input gradient matches autograd per class, the forward mode is
 * the backward pass's transpose, and LRP (epsilon-gamma-box) gives finite maps that conserve
 * relevance on the bias-free version of the network (DESIGN §1.5 conventions, README "Supported
 * ONNX ops and LRP conventions").
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { oneHotSeeds } from '../src/methods/types.js';
import type { Model } from '../src/model/ir.js';
import { loadModelFile } from '../src/model/load-file.js';
import { assignRules, epsilonGammaBox } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { estimateSpectrum } from '../src/spectral/matrix-free.js';
import { adjointGap } from './helpers/adjoint.js';
import { FIXTURES, npy, rel } from './helpers/fixtures.js';

const DIR = join(FIXTURES, 'torchvision');

/** file → (reference arch, IR op types the export must contain) */
const EXPORTS: [string, string, string[]][] = [
  ['densenet-opset11', 'densenet', ['concat', 'affine', 'avgpool']],
  ['densenet-opset17', 'densenet', ['concat', 'affine', 'avgpool']],
  ['densenet-external', 'densenet', ['concat', 'affine']],
  ['densenet-fp16', 'densenet', ['concat', 'affine']],
  ['mobilenetv2-opset17', 'mobilenetv2', ['unary', 'add']],
  ['mobilenetv3-opset11', 'mobilenetv3', ['unary', 'mul']],
  ['mobilenetv3-opset17', 'mobilenetv3', ['unary', 'mul']],
  ['efficientnet-opset17', 'efficientnet', ['unary', 'mul']],
  ['mnasnet-opset17', 'mnasnet', ['reduce']],
  ['shufflenet-opset11', 'shufflenet', ['transpose', 'slice', 'concat', 'reduce']],
  ['shufflenet-opset17', 'shufflenet', ['transpose', 'slice', 'concat', 'reduce']],
  ['googlenet-opset17', 'googlenet', ['slice', 'concat', 'affine']],
  [
    'ops-zoo-opset11',
    'ops-zoo',
    ['pad', 'unary', 'mul', 'div', 'sub', 'reduce', 'transpose', 'slice', 'softmax'],
  ],
  [
    'ops-zoo-opset17',
    'ops-zoo',
    ['pad', 'unary', 'mul', 'div', 'sub', 'reduce', 'transpose', 'slice', 'softmax'],
  ],
];

function load(file: string): Model {
  const p = join(DIR, `${file}.onnx`);
  if (!existsSync(p)) throw new Error(`fixture missing: ${p} (scripts/make-torchvision-fixtures.py)`);
  return loadModelFile(p);
}

/** max over classes of max_i |a − b| / max_i |b|; maps are class-major [c, d] */
function perClassMaxRel(a: ArrayLike<number>, b: ArrayLike<number>, c: number): number {
  const d = b.length / c;
  let worst = 0;
  for (let k = 0; k < c; k++) {
    let err = 0;
    let mx = 0;
    for (let i = 0; i < d; i++) {
      err = Math.max(err, Math.abs(a[k * d + i] - b[k * d + i]));
      mx = Math.max(mx, Math.abs(b[k * d + i]));
    }
    worst = Math.max(worst, err / mx);
  }
  return worst;
}

describe.each(EXPORTS)('%s', (file, arch, types) => {
  const x = () => npy(`torchvision/${arch}.x.npy`).data as Float32Array;

  it('loads, and its all-class gradient equals float64 autograd (max-relative per class < 1e-4)', async () => {
    const model = load(file);
    const have = new Set(model.layers.map((l) => l.op.type));
    for (const t of types) expect(have, `${file} has a ${t} layer`).toContain(t);
    const r = new ModelRunner(model, new NodeEngine());
    const C = r.outputSize;
    expect(C).toBe(arch === 'ops-zoo' ? 5 : 20);
    const ref = npy(`torchvision/${arch}.grad.npy`).data as Float32Array;
    const { attributions } = await r.backward(
      'gradient',
      { mode: 'gradient' },
      x(),
      1,
      oneHotSeeds(C).seeds,
      C,
    );
    const err = perClassMaxRel(attributions, ref, C);
    console.log(`${file}: all-class gradient max-relative error per class ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    await r.release();
  });

  it('forward mode is the transpose of the backward pass (gradient and LRP)', async () => {
    const model = load(file);
    const r = new ModelRunner(model, new NodeEngine());
    const lrpPass = {
      mode: 'lrp' as const,
      rules: assignRules(model, epsilonGammaBox(0.25, { low: [-5], high: [5] })),
    };
    for (const [key, pass] of [
      ['gradient', { mode: 'gradient' as const }],
      ['lrp', lrpPass],
    ] as const)
      expect(await adjointGap(r, key, pass, x(), 2, 5), key).toBeLessThan(1e-4);
    await r.release();
  });

  it('LRP epsilon-gamma-box: finite maps; bias-free, every column sums to its seed', async () => {
    const xs = x();
    const bounds = { low: [Math.min(...xs)], high: [Math.max(...xs)] };
    for (const biasFree of [false, true]) {
      const model = load(file);
      if (biasFree) zeroBiases(model);
      const r = new ModelRunner(model, new NodeEngine());
      const pass = { mode: 'lrp' as const, rules: assignRules(model, epsilonGammaBox(0.25, bounds)) };
      const C = r.outputSize;
      const { attributions } = await r.backward('lrp', pass, xs, 1, oneHotSeeds(C).seeds, C);
      expect(attributions.every(Number.isFinite)).toBe(true);
      const d = r.inputSize;
      const sums = Array.from({ length: C }, (_, k) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += attributions[k * d + i];
        return s;
      });
      // ops-zoo pads with the constant 0.3: those cells are constants like a bias, and the
      // relevance the next conv gives them is absorbed (README: conservation)
      if (biasFree && arch !== 'ops-zoo') {
        const worst = Math.max(...sums.map((s) => Math.abs(s - 1)));
        console.log(`${file}: bias-free LRP column sums within ${worst.toExponential(2)} of 1`);
        expect(worst).toBeLessThan(1e-3);
      }
      await r.release();
    }
  });
});

/** Zero every bias and affine shift: LRP's z-rules are then conservative layer by layer */
function zeroBiases(model: Model): void {
  for (const l of model.layers) {
    const op = l.op;
    const name =
      op.type === 'conv' || op.type === 'linear' ? op.bias : op.type === 'affine' ? op.shift : undefined;
    if (name) model.params.get(name)!.data.fill(0);
  }
}

describe.each(['efficientnet-opset17', 'shufflenet-opset17'])('every method on %s', (file) => {
  const arch = file.split('-')[0];
  it('gradient, G×I (= gradient ⊙ x), SmoothGrad, IG, Shapley, LRP are finite; matrix-free = exact', async () => {
    const x = npy(`torchvision/${arch}.x.npy`).data as Float32Array;
    const runner = new ModelRunner(load(file), new NodeEngine());
    const C = runner.outputSize;
    const { seeds, K } = oneHotSeeds(C);
    const maps = new Map<string, Float32Array>();
    for (const spec of [
      { method: 'gradient' as const },
      { method: 'gi' as const },
      { method: 'sg' as const, samples: 4, noise: 0.1 },
      { method: 'ig' as const, steps: 8 },
      { method: 'shapley' as const, samples: 2, patch: 16, baseline: 0 },
      { method: 'lrp' as const, composite: 'epsilon-gamma-box', low: [-5], high: [5] },
    ]) {
      const m = createMethod(runner, spec);
      const ex = await m.attribute(x, seeds, K);
      expect(ex.attributions.every(Number.isFinite), spec.method).toBe(true);
      expect(
        ex.attributions.some((v) => v !== 0),
        spec.method,
      ).toBe(true);
      maps.set(spec.method, ex.attributions);
    }
    const d = runner.inputSize;
    const grad = maps.get('gradient')!;
    const gi = maps.get('gi')!;
    for (let i = 0; i < grad.length; i++) expect(gi[i]).toBeCloseTo(grad[i] * x[i % d], 6);
    for (const spec of [{ method: 'gradient' as const }, { method: 'sg' as const, samples: 3, noise: 0.1 }]) {
      const m = createMethod(runner, spec);
      const exact = await analyze(m, x, { features: 'pixels', inactive: 'zero' });
      const est = await estimateSpectrum(m, x, { block: C, features: 'pixels', inactive: 'zero' });
      expect(est.exact).toBe(true);
      expect(rel(est.sigma1, exact.scores.sigma1), spec.method).toBeLessThan(1e-5);
      expect(rel(est.frobenius, exact.scores.sensitivity), spec.method).toBeLessThan(1e-5);
    }
    await runner.release();
  });
});
