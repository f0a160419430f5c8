/**
 * Large graphs' weights as ONNX external data (runtime/weight-file.ts, NodeEngine's
 * externalWeights): forced on for a small fixture model, the numbers equal the inline graph's;
 * weights are written once per buffer (and again after they change in place); a folder that
 * cannot be written falls back to inline graphs with a warning; orphans of dead processes go.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { loadModelFile } from '../src/model/load-file.js';
import { type CompiledGraph, compileForward, compilePasses } from '../src/propagate/compile.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { WeightFile } from '../src/runtime/weight-file.js';
import { FIXTURES, inputs } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'xs-weights-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MODEL = join(FIXTURES, 'models', 'vgg-mini-bn.onnx');
const { x, d } = inputs('vgg-mini-bn');
const x0 = x.slice(0, d);

const LRP = { method: 'lrp', composite: 'vgg16-paper', gamma: 0.25 } as const;

/** logits and the LRP attributions of 3 outputs through one runner */
async function results(engine: NodeEngine, model = loadModelFile(MODEL)) {
  const runner = new ModelRunner(model, engine);
  const logits = await runner.forward(x0, 1);
  const m = createMethod(runner, LRP);
  const { seeds, K } = oneHotSeeds(runner.outputSize, [0, 1, 2]);
  const { attributions } = await m.attribute(x0, seeds, K);
  await runner.release();
  return { logits: Array.from(logits), attributions: Array.from(attributions) };
}

/** bytes a graph puts in the weight file (tensors of at least 64 KiB, as NodeEngine) */
function placedBytes(g: CompiledGraph): number {
  let n = 0;
  g.encode({
    minBytes: 64 * 1024,
    place: (data) => {
      n += data.byteLength;
      return { location: 'w', offset: 0, length: data.byteLength };
    },
  });
  return n;
}

describe('weights as external data (NodeEngine externalWeights)', () => {
  it('gives the inline graph’s numbers exactly, writing each weight buffer once', async () => {
    const model = loadModelFile(MODEL);
    const inline = await results(new NodeEngine({ externalWeights: false }), model);
    const engine = new NodeEngine({ externalWeights: true, weightDir: tmp });
    const external = await results(engine, model);
    expect(external.logits).toEqual(inline.logits);
    expect(external.attributions).toEqual(inline.attributions);
    const file = engine.weightFile;
    if (!file) throw new Error('no weight file was written');
    // the forward graph and the LRP pass graph share the model's weights: the second graph adds
    // only its own constants (LRP's rule terms), far less than its initializers
    const runner = new ModelRunner(model, new NodeEngine());
    const lp = createMethod(runner, LRP).linearPass;
    if (!lp) throw new Error('LRP has no linear pass');
    const weights = placedBytes(compileForward(model));
    const pass = placedBytes(compilePasses(model, runner.forProvider(lp.pass)));
    expect(weights).toBeGreaterThan(0);
    expect(pass).toBeGreaterThanOrEqual(weights);
    expect(file.bytes).toBeGreaterThanOrEqual(weights);
    // without sharing it would hold weights + pass (plus page alignment)
    expect(file.bytes).toBeLessThan(weights + pass / 2);
    // the graphs written beside it are gone once their sessions are loaded
    expect(readdirSync(file.dir)).toEqual(['weights.bin']);
    file.remove();
    expect(existsSync(file.dir)).toBe(false);
  });

  it('writes a weight buffer again when it changed in place (e.g. training)', async () => {
    const model = loadModelFile(MODEL);
    const engine = new NodeEngine({ externalWeights: true, weightDir: tmp });
    await results(engine, model);
    const before = engine.weightFile?.bytes ?? 0;
    const used = model.layers.flatMap((l) => ('weight' in l.op ? [model.params.get(l.op.weight)] : []));
    const first = used.filter((p) => p !== undefined).sort((a, b) => b.data.length - a.data.length)[0];
    expect(first.data.byteLength).toBeGreaterThanOrEqual(64 * 1024);
    for (let i = 0; i < first.data.length; i++) first.data[i] *= 0.5;
    const changed = await results(engine, model);
    expect(engine.weightFile?.bytes ?? 0).toBeGreaterThanOrEqual(before + first.data.byteLength);
    // the same as an inline graph of the changed model
    const inline = await results(new NodeEngine({ externalWeights: false }), model);
    expect(changed.logits).toEqual(inline.logits);
    engine.weightFile?.remove();
  });

  it('falls back to inline graphs with a warning when the folder cannot be written', async () => {
    const notADir = join(tmp, 'plain-file');
    writeFileSync(notADir, 'x');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const engine = new NodeEngine({ externalWeights: true, weightDir: notADir });
      const r = await results(engine);
      const inline = await results(new NodeEngine({ externalWeights: false }));
      expect(r.logits).toEqual(inline.logits);
      expect(engine.weightFile).toBeUndefined();
      await new Promise((res) => setImmediate(res));
      expect(warnings.some((w) => w.includes('cannot write the weight file') && w.includes('ENOTDIR'))).toBe(
        true,
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("'auto' keeps small graphs inline (no weight file)", async () => {
    const engine = new NodeEngine({ weightDir: tmp });
    await results(engine);
    expect(engine.weightFile).toBeUndefined();
  });

  it('finds a small buffer again by content, a large one by identity checked against the file', () => {
    const f = new WeightFile(1024, tmp);
    const small = Float32Array.from({ length: 50_000 }, (_, i) => Math.sin(i));
    const a = f.place(new Uint8Array(small.buffer));
    // a rebuilt constant: another buffer, the same content
    expect(f.place(new Uint8Array(Float32Array.from(small).buffer)).offset).toBe(a.offset);
    const big = Float32Array.from({ length: 5_000_000 }, (_, i) => Math.cos(i)); // 20 MB
    const bytes = new Uint8Array(big.buffer);
    const b = f.place(bytes);
    expect(f.place(bytes).offset).toBe(b.offset);
    // one value edited in place (e.g. an ablated channel): written anew, the old region untouched
    big[4_321_987] = 0;
    const c = f.place(bytes);
    expect(c.offset).toBeGreaterThan(b.offset);
    expect(c.offset % 4096).toBe(0);
    expect(f.place(bytes).offset).toBe(c.offset);
    expect(f.bytes).toBe(c.offset + bytes.byteLength);
    f.remove();
  });

  it('removes the folders of processes that are gone, and keeps live ones', () => {
    const parent = join(tmp, 'parent');
    mkdirSync(parent);
    // no process has a pid above the kernel's limit (at most 2^22)
    mkdirSync(join(parent, 'xspectra-weights-99999999-abc'));
    mkdirSync(join(parent, `xspectra-weights-${process.ppid}-def`));
    mkdirSync(join(parent, 'unrelated'));
    const f = new WeightFile(1024, parent);
    const names = readdirSync(parent).sort();
    expect(names).toContain(`xspectra-weights-${process.ppid}-def`);
    expect(names).toContain('unrelated');
    expect(names).not.toContain('xspectra-weights-99999999-abc');
    expect(names.filter((n) => n.startsWith(`xspectra-weights-${process.pid}-`))).toHaveLength(1);
    f.remove();
    expect(readdirSync(parent).some((n) => n.startsWith(`xspectra-weights-${process.pid}-`))).toBe(false);
  });
});
