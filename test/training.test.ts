/**
 * Training: parameter gradients of the compiled training graph against central finite
 * differences (one direction per parameter tensor), a short SGD run on a subset, the data split,
 * and the IDX reader on Debian's Fashion-MNIST files.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { idxImagesToInputs, parseIdx } from '../src/data/idx.js';
import { readIdxFile } from '../src/data/idx-file.js';
import { mnistSplit, subset } from '../src/data/mnist.js';
import { Rng } from '../src/methods/random.js';
import { IO } from '../src/propagate/compile.js';
import { compileTrainingStep, TRAIN_IO } from '../src/propagate/training.js';
import type { HostTensor } from '../src/runtime/engine.js';
import { NodeEngine } from '../src/runtime/node.js';
import { paperMnistCnn } from '../src/train/architecture.js';
import { accuracy, trainSgd } from '../src/train/sgd.js';

describe('MNIST data', () => {
  it('has a stable 8000/2000 split of the 10,000 real digits', () => {
    const a = mnistSplit();
    const b = mnistSplit();
    expect(a.train.n).toBe(8000);
    expect(a.test.n).toBe(2000);
    expect(a.splitHash).toBe(b.splitHash);
    expect(a.splitHash).not.toBe(mnistSplit(1).splitHash);
    const counts = new Array(10).fill(0);
    for (const l of a.test.labels) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(150);
    let max = 0;
    for (const v of a.test.images) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });
});

describe('IDX reader', () => {
  it('parses a hand-built IDX file and rejects truncation', () => {
    const bytes = new Uint8Array([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 20, 30, 40]);
    const a = parseIdx(bytes);
    expect(a.shape).toEqual([2, 1, 2]);
    expect(Array.from(a.data)).toEqual([10, 20, 30, 40]);
    expect(() => parseIdx(bytes.subarray(0, 18))).toThrow(/truncated/);
    expect(() => parseIdx(new Uint8Array([1, 2, 3, 4]))).toThrow(/not an IDX/);
  });
  const fashion = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
  it('reads Fashion-MNIST (Debian dataset-fashion-mnist, installed by .ci/run)', () => {
    expect(existsSync(fashion), `${fashion} missing: apt-get install dataset-fashion-mnist`).toBe(true);
    const imgs = readIdxFile(fashion);
    expect(imgs.shape).toEqual([10000, 28, 28]);
    const labels = readIdxFile(fashion.replace('images-idx3', 'labels-idx1'));
    expect(labels.shape).toEqual([10000]);
    expect(Math.max(...Array.from(labels.data))).toBe(9);
    const x = idxImagesToInputs(imgs);
    expect(x.length).toBe(784 * 10000);
  });
});

describe('training graph', () => {
  it('parameter gradients match central finite differences', async () => {
    const model = paperMnistCnn(3);
    // zero biases put every background unit exactly on the ReLU kink, where central differences
    // average both sides: random biases move the evaluation point off the kinks
    const brng = new Rng(9);
    for (const [n, p] of model.params)
      if (n.endsWith('bias')) for (let i = 0; i < p.data.length; i++) p.data[i] = 0.1 * brng.normal();
    const engine = new NodeEngine();
    const s = await engine.createSession(compileTrainingStep(model).bytes);
    const { train } = mnistSplit();
    const B = 2; // few images: few ReLU / max-pool kinks within the finite-difference step
    const data = subset(
      train,
      Array.from({ length: B }, (_, i) => i),
    );
    const labels = new Float32Array(B * 10);
    data.labels.forEach((l, b) => {
      labels[b * 10 + l] = 1;
    });
    const run = async () => {
      const feeds: Record<string, HostTensor> = {
        [IO.x]: { dims: [B, 1, 28, 28], data: data.images },
        [TRAIN_IO.labels]: { dims: [B, 10], data: labels },
      };
      for (const [n, p] of model.params) feeds[`param:${n}`] = { dims: p.dims, data: p.data };
      return s.run(feeds);
    };
    const base = await run();
    const rng = new Rng(5);
    for (const [name, p] of model.params) {
      const grad = base[TRAIN_IO.grad(name)].data;
      const v = Float32Array.from({ length: p.data.length }, () => rng.normal());
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += grad[i] * v[i];
      const orig = Float32Array.from(p.data);
      const h = 1e-4;
      const lossAt = async (sign: number) => {
        for (let i = 0; i < v.length; i++) p.data[i] = orig[i] + sign * h * v[i];
        return (await run())[TRAIN_IO.loss].data[0];
      };
      const fd = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
      p.data.set(orig);
      // float32 losses carry ~1e-6 absolute noise and larger steps cross ReLU/max-pool kinks, so
      // the central difference is good to a few per cent; a wrong gradient is off by far more
      expect(Math.abs(fd - dot), `${name}: fd ${fd} vs analytic ${dot}`).toBeLessThan(
        0.1 * Math.abs(dot) + 5e-3,
      );
    }
  });

  it('a short SGD run lowers the loss and reaches accuracy far above chance', async () => {
    const model = paperMnistCnn(0);
    const engine = new NodeEngine();
    const { train, test } = mnistSplit();
    const losses: number[] = [];
    await trainSgd(
      model,
      subset(
        train,
        Array.from({ length: 3000 }, (_, i) => i),
      ),
      engine,
      {
        iterations: 250,
        batch: 50,
        learningRate: 0.1,
        seed: 0,
        onStep: (_s, l) => losses.push(l),
      },
    );
    const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
    expect(last).toBeLessThan(first / 3);
    const acc = await accuracy(
      model,
      subset(
        test,
        Array.from({ length: 500 }, (_, i) => i),
      ),
      engine,
    );
    expect(acc).toBeGreaterThan(0.8);
  });
});
