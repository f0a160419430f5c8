/**
 * The shipped model: a standard ONNX file with a free batch dimension that onnxruntime-node runs
 * directly, ≥ 97.5 % accuracy on the 2,000 held-out digits, and metadata that matches.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mnistSplit } from '../src/data/mnist.js';
import { loadModelFile } from '../src/model/load-file.js';
import { PAPER_MNIST_ARCHITECTURE } from '../src/train/architecture.js';

const ROOT = join(import.meta.dirname, '..');
const MODEL = join(ROOT, 'models', 'mnist-cnn.onnx');

describe('shipped MNIST model', () => {
  it('reaches ≥ 97.5 % test accuracy with plain onnxruntime-node, any batch size', async () => {
    const s = await ort.InferenceSession.create(MODEL);
    expect(s.inputNames).toEqual(['x']);
    const { test } = mnistSplit();
    let correct = 0;
    for (const batch of [7, 993, 1000]) {
      // batches of different sizes prove the batch dimension is free
      const start = batch === 7 ? 0 : batch === 993 ? 7 : 1000;
      const x = test.images.slice(start * 784, (start + batch) * 784);
      const out = await s.run({ x: new ort.Tensor('float32', x, [batch, 1, 28, 28]) });
      const logits = out[s.outputNames[0]].data as Float32Array;
      expect(out[s.outputNames[0]].dims).toEqual([batch, 10]);
      for (let i = 0; i < batch; i++) {
        let best = 0;
        for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        if (best === test.labels[start + i]) correct++;
      }
    }
    const acc = correct / 2000;
    expect(acc).toBeGreaterThanOrEqual(0.975);
    const meta = JSON.parse(readFileSync(MODEL.replace(/\.onnx$/, '.json'), 'utf8'));
    expect(meta.testAccuracy).toBe(acc);
    expect(meta.data.splitHash).toBe(mnistSplit().splitHash);
    expect(meta.architecture).toBe(PAPER_MNIST_ARCHITECTURE);
  });
  it('has the paper architecture', () => {
    const m = loadModelFile(MODEL);
    const convs = m.layers
      .filter((l) => l.op.type === 'conv')
      .map((l) =>
        l.op.type === 'conv' ? `${m.params.get(l.op.weight)!.dims.join('x')}/p${l.op.pads[0]}` : '',
      );
    expect(convs).toEqual([
      '8x1x3x3/p1',
      '8x8x3x3/p1',
      '8x8x5x5/p0',
      '16x8x5x5/p0',
      '16x16x3x3/p1',
      '16x16x3x3/p1',
    ]);
    expect(m.layers.filter((l) => l.op.type === 'maxpool').length).toBe(2);
    expect(m.shapes.get(m.outputName)).toEqual([10]);
  });
});
