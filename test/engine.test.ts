/**
 * The compiled graphs against PyTorch autograd on awkward shapes (stride-2 conv on 30×29,
 * overlapping and ceil-mode max-pool, dilated and grouped conv, residual Add, Concat, average
 * pool without padding counts), the adjoint identity ⟨R v, u⟩ = ⟨v, Rᵀ u⟩ of the forward-mode
 * graphs, and LRP-0 conservation on a bias-free ReLU network.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GRADIENT_PASS } from '../src/methods/gradient.js';
import { lrpPass } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import { loadModelFile } from '../src/model/load-file.js';
import { customComposite, gammaAll, vgg16Paper } from '../src/rules/composites.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { adjointGap } from './helpers/adjoint.js';
import { FIXTURES, inputs, maxRelErr, npy, runnerFor, testEngine } from './helpers/fixtures.js';
import { PROVIDERS } from './helpers/providers.js';
import { randomArray } from './helpers/tiny-models.js';

const awkward = () =>
  new ModelRunner(loadModelFile(join(FIXTURES, 'extra', 'awkward.onnx')), new NodeEngine());

describe('awkward shapes against PyTorch', () => {
  const x = npy('extra/awkward.x.npy').data as Float32Array;
  it('loads the export and computes the same logits', async () => {
    const r = awkward();
    expect(r.model.inputShape).toEqual([3, 30, 29]);
    const types = r.model.layers.map((l) => l.op.type);
    for (const t of ['conv', 'maxpool', 'avgpool', 'add', 'concat', 'linear']) expect(types).toContain(t);
    const y = await r.forward(x, 1);
    expect(maxRelErr(y, npy('extra/awkward.logits.npy').data as Float64Array)).toBeLessThan(1e-5);
  });
  it('VJP for 3 seeds equals autograd', async () => {
    const r = awkward();
    const seeds = npy('extra/awkward.seeds.npy').data as Float32Array;
    const { attributions } = await r.backward('gradient', GRADIENT_PASS, x, 1, seeds, 3);
    expect(maxRelErr(attributions, npy('extra/awkward.vjp.npy').data as Float64Array)).toBeLessThan(1e-5);
  });
  it('JVP for 2 tangents equals autograd', async () => {
    const r = awkward();
    const t = npy('extra/awkward.tangents.npy').data as Float32Array;
    const jv = await r.forwardMode('gradient', GRADIENT_PASS, x, t, 2);
    expect(maxRelErr(jv, npy('extra/awkward.jvp.npy').data as Float64Array)).toBeLessThan(1e-5);
  });
});

describe('conv backward variants', () => {
  it('flipped-kernel Conv and ConvTranspose give the same gradients', async () => {
    const r = runnerFor('mnist-cnn');
    const { x, d } = inputs('mnist-cnn');
    const seeds = randomArray(new Rng(3), 3 * 10);
    const a = await r.backward('flip', { mode: 'gradient' }, x.slice(0, d), 1, seeds, 3);
    const b = await r.backward(
      'convt',
      { mode: 'gradient', convBackward: 'conv-transpose' },
      x.slice(0, d),
      1,
      seeds,
      3,
    );
    expect(maxRelErr(a.attributions, b.attributions)).toBeLessThan(1e-6);
  });
});

describe.each(PROVIDERS)('adjoint identity ⟨R v, u⟩ = ⟨v, Rᵀ u⟩ on %s', (provider) => {
  it('gradient and LRP composites on mnist-cnn', async () => {
    const r = runnerFor('mnist-cnn', provider);
    const { x, d } = inputs('mnist-cnn');
    const x0 = x.slice(0, d);
    expect(await adjointGap(r, 'gradient', GRADIENT_PASS, x0)).toBeLessThan(1e-5);
    for (const g of [0, 0.25, 10]) {
      const p = lrpPass(r, gammaAll(g));
      expect(await adjointGap(r, `${p.key}${g}`, p.pass, x0), `gamma ${g}`).toBeLessThan(1e-5);
    }
  });
  it('z^B + γ + ε on vgg-mini-bn (folded BatchNorm)', async () => {
    const r = runnerFor('vgg-mini-bn', provider);
    const { x, d } = inputs('vgg-mini-bn');
    const p = lrpPass(r, vgg16Paper(0.25, { low: [-2.1, -2.0, -1.8], high: [2.2, 2.4, 2.6] }));
    expect(await adjointGap(r, p.key, p.pass, x.slice(0, d))).toBeLessThan(1e-5);
  });
  // Not on WebGPU: this network's 6-channel convs hit a WebGPU Conv bug (ORT 1.30 on lavapipe:
  // Cin a multiple of 3 but not of 4, above 3, Cout a multiple of 4 gives wrong results; see
  // ARCHITECTURE.md "GPU notes"), independent of the compiler. The ResNet-style fixture covers
  // the overlapping max-pool there (test/maxpool.test.ts).
  if (provider === 'cpu')
    it('every rule on the awkward residual network', async () => {
      const r = awkward();
      const x = npy('extra/awkward.x.npy').data as Float32Array;
      for (const rule of [
        'zero',
        'epsilon:0.1',
        'gamma:0.3',
        'zplus',
        'alphabeta:2:1',
        'flat',
        'wsquare',
        'zbox:-3:3',
      ]) {
        const p = lrpPass(r, customComposite(`*=${rule}`));
        expect(await adjointGap(r, `${p.key}`, p.pass, x), rule).toBeLessThan(1e-5);
      }
    });
});

describe.each(PROVIDERS)('conservation on %s', (provider) => {
  // LRP-0 with a 1e-9 stabiliser: the default 1e-6 absorbs ε/z_k of the relevance at each neuron,
  // which reaches ~1e-5 for neurons with z_k ≈ 0.1 (measured: 1.1e-5 on image 1, class 3).
  it('LRP-0 on the bias-free mnist-cnn conserves relevance to 1e-5', async () => {
    const model = runnerFor('mnist-cnn').model;
    for (const l of model.layers)
      if ((l.op.type === 'conv' || l.op.type === 'linear') && l.op.bias) l.op.bias = undefined;
    const r = new ModelRunner(model, testEngine(provider));
    const p = lrpPass(r, customComposite('*=epsilon:1e-9'));
    const { x, d } = inputs('mnist-cnn');
    const seeds = new Float32Array(100);
    for (let k = 0; k < 10; k++) seeds[k * 10 + k] = 1;
    for (let img = 0; img < 3; img++) {
      const { attributions, logits } = await r.backward(
        p.key,
        p.pass,
        x.slice(img * d, (img + 1) * d),
        1,
        seeds,
        10,
      );
      for (let k = 0; k < 10; k++) {
        if (logits[k] <= 0) continue; // a non-positive output's relevance is absorbed by inactive ReLUs
        let s = 0;
        for (let i = 0; i < d; i++) s += attributions[k * d + i];
        expect(Math.abs(s - 1), `image ${img} class ${k}`).toBeLessThan(1e-5);
      }
    }
  });
});

describe('torch.onnx.export opsets 11, 13 and 17', () => {
  it('load, drop the softmax and compute the logits', async () => {
    const x = npy('extra/small.x.npy').data as Float32Array;
    const ref = npy('extra/small.logits.npy').data as Float32Array;
    for (const opset of [11, 13, 17]) {
      const r = new ModelRunner(
        loadModelFile(join(FIXTURES, 'extra', `small-opset${opset}.onnx`)),
        new NodeEngine(),
      );
      expect(r.model.notes.join(' '), `opset ${opset}`).toMatch(/removed trailing Softmax/);
      expect(maxRelErr(await r.forward(x, 2), ref), `opset ${opset}`).toBeLessThan(1e-5);
    }
  });
});
