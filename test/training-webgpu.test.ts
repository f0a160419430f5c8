/**
 * The training graph (loss and every parameter gradient of the paper CNN, with max-pools in the
 * window form) on the WebGPU provider equals the CPU provider's (Indices form).
 */
import { describe, expect, it } from 'vitest';
import { mnistSplit, subset } from '../src/data/mnist.js';
import { IO } from '../src/propagate/compile.js';
import { compileTrainingStep, TRAIN_IO } from '../src/propagate/training.js';
import type { HostTensor } from '../src/runtime/engine.js';
import { maxPoolFormFor } from '../src/runtime/runner.js';
import { paperMnistCnn } from '../src/train/architecture.js';
import { testEngine } from './helpers/fixtures.js';

describe('training graph on webgpu', () => {
  it('loss, logits and all parameter gradients equal the CPU provider’s (rel. 1e-5)', async () => {
    const model = paperMnistCnn(3);
    const { train } = mnistSplit();
    const B = 4;
    const data = subset(train, [0, 1, 2, 3]);
    const labels = new Float32Array(B * 10);
    data.labels.forEach((l, b) => {
      labels[b * 10 + l] = 1;
    });
    const feeds: Record<string, HostTensor> = {
      [IO.x]: { dims: [B, 1, 28, 28], data: data.images },
      [TRAIN_IO.labels]: { dims: [B, 10], data: labels },
    };
    for (const [n, p] of model.params) feeds[`param:${n}`] = { dims: p.dims, data: p.data };
    const outs: Record<string, HostTensor>[] = [];
    for (const p of ['cpu', 'webgpu'] as const) {
      const s = await testEngine(p).createSession(compileTrainingStep(model, maxPoolFormFor(p)).bytes);
      outs.push(await s.run(feeds));
      await s.release();
    }
    expect(Object.keys(outs[1]).sort()).toEqual(Object.keys(outs[0]).sort());
    expect(Object.keys(outs[0]).length).toBe(2 + 2 * 7);
    for (const k of Object.keys(outs[0])) {
      const a = outs[0][k].data;
      const b = outs[1][k].data;
      let err = 0;
      let mx = 0;
      for (let i = 0; i < a.length; i++) {
        err = Math.max(err, Math.abs(a[i] - b[i]));
        mx = Math.max(mx, Math.abs(a[i]));
      }
      expect(err / mx, k).toBeLessThan(1e-5);
    }
  });
});
