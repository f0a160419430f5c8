/**
 * Combined pass sessions (RunnerOptions.sessions = 'combined', the default for large models such
 * as VGG16): one graph holds backward and forward mode over one forward pass, and a run feeds the
 * branch it does not need zero seeds (CPU: K = 0) or one zero row (WebGPU). Its numbers must be
 * the separate sessions' numbers bit for bit, with one session per pass instead of two or three.
 */
import { describe, expect, it } from 'vitest';
import { GRADIENT_PASS } from '../src/methods/gradient.js';
import { lrpPass } from '../src/methods/lrp.js';
import { Rng } from '../src/methods/random.js';
import { loadModelFile } from '../src/model/load-file.js';
import { vgg16Paper } from '../src/rules/composites.js';
import { committedBytes, minimumBudget, rowBytes } from '../src/runtime/memory.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { countingEngine, FIXTURES, inputs, testEngine } from './helpers/fixtures.js';
import { PROVIDERS } from './helpers/providers.js';

const random = (n: number, seed: number) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
};

/** vgg-mini-bn, its first n fixture inputs, and its memory model (budgets in units of sessions and rows) */
function vggMiniBn(n: number) {
  const model = loadModelFile(`${FIXTURES}/models/vgg-mini-bn.onnx`);
  const d = model.inputShape.reduce((a, b) => a * b, 1);
  const { memory } = new ModelRunner(model, new NodeEngine(), { sessions: 'combined' });
  return { model, xs: inputs('vgg-mini-bn').x.subarray(0, n * d), memory };
}

for (const provider of PROVIDERS)
  describe(`combined vs separate sessions on ${provider}`, () => {
    for (const name of [
      'models/mnist-cnn',
      'models/vgg-mini-bn',
      // the ops of modern CNNs (pad, gates, reductions, routing), CPU only: lavapipe is slow
      ...(provider === 'cpu'
        ? [
            'torchvision/efficientnet-opset17',
            'torchvision/shufflenet-opset17',
            'torchvision/ops-zoo-opset17',
          ]
        : []),
    ])
      it(`${name}: gradient and LRP vgg16-paper agree bitwise, with one session per pass`, async () => {
        const model = loadModelFile(`${FIXTURES}/${name}.onnx`);
        const runner = (sessions: 'combined' | 'separate') =>
          new ModelRunner(model, testEngine(provider), { sessions });
        const combined = runner('combined');
        const separate = runner('separate');
        const d = combined.inputSize;
        const xs = name.startsWith('models/')
          ? inputs(name.slice(7)).x.subarray(0, 2 * d)
          : Float32Array.from(random(2 * d, 3));
        const c = combined.outputSize;
        const lrp = lrpPass(combined, vgg16Paper(0.25, { low: [-2], high: [2] }));
        const passes = [
          ['gradient', GRADIENT_PASS],
          [lrp.key, lrp.pass],
        ] as const;
        // the logits come from the combined session when a pass is named
        const viaPass = await combined.forward(xs, 2, { passKey: 'gradient', pass: GRADIENT_PASS });
        expect(Array.from(viaPass)).toEqual(Array.from(await separate.forward(xs, 2)));
        expect(combined.sessionCount).toBe(1);
        for (const [key, pass] of passes) {
          const seeds = random(3 * c, 1);
          const a = await combined.backward(key, pass, xs, 2, seeds, 3);
          const b = await separate.backward(key, pass, xs, 2, seeds, 3);
          expect(a.attributions.length).toBe(2 * 3 * d);
          expect(Array.from(a.attributions)).toEqual(Array.from(b.attributions));
          expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
          const t = random(4 * d, 2);
          const p = await combined.forwardModeBatch(key, pass, xs, 2, t, 4);
          expect(p.length).toBe(2 * 4 * c);
          expect(Array.from(p)).toEqual(Array.from(await separate.forwardModeBatch(key, pass, xs, 2, t, 4)));
        }
        // one per pass (the gradient's also served the logits); separate: backward + forward mode each + forward
        expect(combined.sessionCount).toBe(2);
        expect(separate.sessionCount).toBe(5);
        await combined.release();
        await separate.release();
      });
  });

describe('logits next to a live combined pass session', () => {
  it('come from a forward session where the budget holds one more, else from the pass session', async () => {
    const { model, xs } = vggMiniBn(2);
    const lrp = (r: ModelRunner) => lrpPass(r, vgg16Paper(0.25, { low: [-2], high: [2] }));
    const roomy = new ModelRunner(model, new NodeEngine(), { sessions: 'combined' });
    const one = new ModelRunner(model, new NodeEngine(), { sessions: 'combined' });
    const tight = new ModelRunner(model, new NodeEngine(), {
      sessions: 'combined',
      memoryBudget: minimumBudget(one.memory),
    });
    expect(tight.maxSessions).toBe(1);
    expect(roomy.maxSessions).toBeGreaterThan(1);
    const seeds = new Float32Array(roomy.outputSize).fill(1);
    for (const r of [roomy, tight]) await r.backward(lrp(r).key, lrp(r).pass, xs, 2, seeds, 1);
    const a = await roomy.forward(xs, 2);
    const b = await tight.forward(xs, 2);
    // a plain forward session and the pass session's forward part give the same logits
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(roomy.sessionCount).toBe(2);
    expect(tight.sessionCount).toBe(1);
    for (const r of [roomy, one, tight]) await r.release();
  });

  it('a pass session needing a slot evicts the forward session, not another pass session', async () => {
    const { model, xs: x, memory } = vggMiniBn(1);
    const { engine, created } = countingEngine();
    // two sessions, the row A's arena keeps and one row beside them
    const budget = committedBytes(memory, 2, 0) + 2 * rowBytes(memory, 'backward');
    const r = new ModelRunner(model, engine, { sessions: 'combined', memoryBudget: budget });
    expect(r.maxSessions).toBe(2);
    const lrp = lrpPass(r, vgg16Paper(0.25, { low: [-2], high: [2] }));
    const seeds = new Float32Array(r.outputSize).fill(1);
    await r.backward(lrp.key, lrp.pass, x, 1, seeds, 1); // pass A
    await r.forward(x, 1); // the forward session beside it
    expect(r.sessionCount).toBe(2);
    await r.backward('gradient', GRADIENT_PASS, x, 1, seeds, 1); // pass B evicts the forward session
    await r.backward(lrp.key, lrp.pass, x, 1, seeds, 1); // A is still there
    expect(created).toHaveLength(3);
    await r.release();
  });

  it('a forward session that would take rows from a run is released first, then made again', async () => {
    const { model, xs: x, memory } = vggMiniBn(1);
    // room for two sessions and 4 backward rows next to them
    const row = rowBytes(memory, 'backward');
    const budget = committedBytes(memory, 2, 0) + 4 * row;
    const r = new ModelRunner(model, new NodeEngine(), { sessions: 'combined', memoryBudget: budget });
    expect(r.maxSessions).toBe(2);
    const pass = lrpPass(r, vgg16Paper(0.25, { low: [-2], high: [2] }));
    const c = r.outputSize;
    const seeds = Float32Array.from(random(6 * c, 4));
    const first = await r.backward(pass.key, pass.pass, x, 1, seeds.subarray(0, 2 * c), 2);
    await r.forward(x, 1);
    expect(r.sessionCount).toBe(2);
    // the pass session's arena keeps its 2 rows: 2 of the 4 are left for the forward session's runs
    expect(r.rowsPerRun('forward')).toBe(2);
    // 2 seeds fit the runs beside it (4 rows less the forward session's 1): it stays
    const same = await r.backward(pass.key, pass.pass, x, 1, seeds.subarray(0, 2 * c), 2);
    expect(r.sessionCount).toBe(2);
    expect(Array.from(same.attributions)).toEqual(Array.from(first.attributions));
    // 6 seeds would take 2 runs: it goes, and the run gets its room
    const again = await r.backward(pass.key, pass.pass, x, 1, seeds, 6);
    expect(r.sessionCount).toBe(1);
    expect(Array.from(again.attributions.subarray(0, 2 * r.inputSize))).toEqual(
      Array.from(first.attributions),
    );
    // the pass session's arena now keeps 6 rows: no room for a forward session beside it, so
    // logits come from the pass session, until the room is made
    await r.forward(x, 1);
    expect(r.sessionCount).toBe(1);
    expect(r.freeBytes()).toBe(budget - committedBytes(memory, 1, 0));
    await r.makeRoomForForward();
    await r.forward(x, 1);
    expect(r.sessionCount).toBe(1);
    await r.release();
  });

  it("a session's arena keeps its largest run: the budget of other sessions' runs and of new sessions counts it", async () => {
    const { model, xs: x, memory } = vggMiniBn(1);
    const { engine, created } = countingEngine();
    const row = rowBytes(memory, 'backward');
    const budget = committedBytes(memory, 2, 0) + 6 * row;
    const r = new ModelRunner(model, engine, { sessions: 'combined', memoryBudget: budget });
    const a = lrpPass(r, vgg16Paper(0.25, { low: [-2], high: [2] }));
    const seeds = Float32Array.from(random(8 * r.outputSize, 5));
    await r.backward(a.key, a.pass, x, 1, seeds, 4); // one run of 4 rows: A's arena keeps them
    expect(r.maxSessions).toBe(2);
    await r.backward('gradient', GRADIENT_PASS, x, 1, seeds, 1); // B beside A
    expect(r.sessionCount).toBe(2);
    // B's runs get the 6 rows less A's 4, whatever B itself ran
    expect(r.rowsPerRun('backward')).toBe(2);
    await r.backward('gradient', GRADIENT_PASS, x, 1, seeds, 2);
    expect(r.rowsPerRun('backward')).toBe(2);
    // B's 2 and A's 4 leave no room for a third session: C evicts the least recently used (A)
    await r.backward('gradient-2', GRADIENT_PASS, x, 1, seeds, 1);
    expect(r.sessionCount).toBe(2);
    await r.backward(a.key, a.pass, x, 1, seeds, 1);
    expect(created).toHaveLength(4);
    await r.release();
  });
});
