/**
 * Minibatch SGD on ONNX Runtime: each step runs the compiled training graph (loss and parameter
 * gradients) and updates the parameters on the host. Seeded shuffling, per-epoch reshuffle.
 */
import type { Digits } from '../data/mnist.js';
import { Rng } from '../methods/random.js';
import { argmax } from '../methods/types.js';
import type { Model } from '../model/ir.js';
import { IO } from '../propagate/compile.js';
import { compileTrainingStep, TRAIN_IO } from '../propagate/training.js';
import type { Engine, HostTensor } from '../runtime/engine.js';
import { ModelRunner, maxPoolFormFor } from '../runtime/runner.js';

export interface SgdOptions {
  iterations: number;
  batch: number;
  learningRate: number;
  seed: number;
  /** random translation of each training image by up to this many pixels (0: none) */
  shift?: number;
  /** called after every step with the loss and the running accuracy over the last 100 steps */
  onStep?: (step: number, loss: number, runningAccuracy: number) => void;
}

export async function trainSgd(
  model: Model,
  data: Digits,
  engine: Engine,
  opts: SgdOptions,
): Promise<{ finalLoss: number }> {
  const session = await engine.createSession(
    compileTrainingStep(model, maxPoolFormFor(engine.provider)).bytes,
  );
  const rng = new Rng(opts.seed + 1);
  const d = 784;
  const c = 10;
  let order = rng.permutation(data.n);
  let pos = 0;
  const xs = new Float32Array(opts.batch * d);
  const ys = new Float32Array(opts.batch * c);
  const recent: number[] = [];
  let loss = Number.NaN;
  for (let step = 0; step < opts.iterations; step++) {
    ys.fill(0);
    const labels: number[] = [];
    for (let b = 0; b < opts.batch; b++) {
      if (pos === data.n) {
        order = rng.permutation(data.n);
        pos = 0;
      }
      const i = order[pos++];
      const img = data.images.subarray(i * d, (i + 1) * d);
      if (opts.shift)
        translate(
          img,
          xs.subarray(b * d, (b + 1) * d),
          rng.int(2 * opts.shift + 1) - opts.shift,
          rng.int(2 * opts.shift + 1) - opts.shift,
        );
      else xs.set(img, b * d);
      ys[b * c + data.labels[i]] = 1;
      labels.push(data.labels[i]);
    }
    const feeds: Record<string, HostTensor> = {
      [IO.x]: { dims: [opts.batch, 1, 28, 28], data: xs },
      [TRAIN_IO.labels]: { dims: [opts.batch, c], data: ys },
    };
    for (const [name, p] of model.params) feeds[`param:${name}`] = { dims: p.dims, data: p.data };
    const out = await session.run(feeds);
    loss = out[TRAIN_IO.loss].data[0];
    if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step}: loss ${loss}`);
    for (const [name, p] of model.params) {
      const grad = out[TRAIN_IO.grad(name)].data;
      for (let q = 0; q < p.data.length; q++) p.data[q] -= opts.learningRate * grad[q];
    }
    const logits = out[IO.logits].data;
    let correct = 0;
    labels.forEach((lab, b) => {
      if (argmax(logits.subarray(b * c, (b + 1) * c)) === lab) correct++;
    });
    recent.push(correct / opts.batch);
    if (recent.length > 100) recent.shift();
    opts.onStep?.(step, loss, recent.reduce((a, v) => a + v, 0) / recent.length);
  }
  await session.release();
  return { finalLoss: loss };
}

export async function accuracy(model: Model, data: Digits, engine: Engine): Promise<number> {
  const runner = new ModelRunner(model, engine);
  const logits = await runner.forward(data.images, data.n);
  let correct = 0;
  for (let i = 0; i < data.n; i++) {
    if (argmax(logits.subarray(i * 10, (i + 1) * 10)) === data.labels[i]) correct++;
  }
  await runner.release();
  return correct / data.n;
}

/** Shift a 28×28 image by (dx, dy) pixels, filling with 0 (the background). */
function translate(src: Float32Array, dst: Float32Array, dx: number, dy: number): void {
  dst.fill(0);
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < 28) dst[y * 28 + x] = src[sy * 28 + sx];
    }
  }
}
