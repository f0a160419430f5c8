/**
 * The memory budget bounds the whole process (runtime/memory.ts), and R that does not fit what it
 * leaves goes to disk (spectral/r-store.ts, io/r-file.ts): spilled R gives the in-memory
 * analysis' numbers (R's entries rounded to float32, which is what the attributions are), its
 * file is a valid R.npy, holding R in memory shrinks the runs until it is released, and budgets
 * that cannot work are refused with the culprit named.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile, writeNpyFile } from '../src/io/files.js';
import { parseNpy } from '../src/io/npy.js';
import { saveMatrix, spillToFile } from '../src/io/r-file.js';
import { createMethod } from '../src/methods/factory.js';
import { Rng } from '../src/methods/random.js';
import { loadModelFile } from '../src/model/load-file.js';
import {
  assertFits,
  committedBytes,
  DEFAULT_MEMORY_BUDGET,
  minimumBudget,
  rowBytes,
  rowsWithin,
  sessionBytes,
  sessionsWithin,
} from '../src/runtime/memory.js';
import { LARGE_GRAPH_BYTES, NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { decompose } from '../src/spectral/decompose.js';
import { gramOnEngine } from '../src/spectral/gram-ort.js';
import {
  applyMany,
  columnSumsOf,
  getDefaultSpill,
  memoryStore,
  setDefaultSpill,
} from '../src/spectral/r-store.js';
import { redistributionMatrix } from '../src/spectral/redistribution.js';
import { storeSvd, thinSvd } from '../src/spectral/svd.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs, maxRelErr } from './helpers/fixtures.js';
import { graphModel, linearModel, randomArray } from './helpers/tiny-models.js';

const dir = mkdtempSync(join(tmpdir(), 'xs-spill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model = loadModelFile(join(FIXTURES, 'models', 'vgg-mini-bn.onnx'));
const runnerWith = (memoryBudget?: number) => new ModelRunner(model, new NodeEngine(), { memoryBudget });
const { x: xs, d: D } = inputs('vgg-mini-bn');
const x = xs.subarray(0, D);
const LRP = { method: 'lrp', composite: 'vgg16-paper', gamma: 0.25, preprocess: 'imagenet' } as const;

describe('the memory model (runtime/memory.ts)', () => {
  // VGG16 as the runner sees it: 553 MB of weights, ≈ 30 M activation floats per sample
  const vgg16 = { total: DEFAULT_MEMORY_BUDGET, weightBytes: 553e6, activationFloats: 30.1e6 };

  it('gives VGG16 4 rows per run at the default budget (3 next to its exact R in memory)', () => {
    const R = 50176 * 1000 * 8;
    expect(rowsWithin(vgg16, 'backward', 1, R)).toBe(3);
    expect(rowsWithin(vgg16, 'backward', 1, 0)).toBe(4);
    expect(rowsWithin(vgg16, 'forward-mode', 1, 0)).toBe(4);
    // one session at a time: a second would not leave room for a run
    expect(sessionsWithin(vgg16, 0)).toBe(1);
    expect(sessionsWithin({ ...vgg16, total: 8 * 1024 ** 3 }, 0)).toBe(3);
  });

  it('shrinks runs as sessions and reservations grow, never below one row', () => {
    const m = { total: 2 * 1024 ** 3, weightBytes: 10e6, activationFloats: 1e6 };
    const free = (s: number, r: number) =>
      m.total - 256 * 1024 ** 2 - m.weightBytes - s * sessionBytes(m) - r;
    for (const [s, r] of [
      [1, 0],
      [3, 0],
      [1, 5e8],
      [2, 1.2e9],
    ])
      expect(rowsWithin(m, 'backward', s, r)).toBe(
        Math.max(1, Math.floor(free(s, r) / rowBytes(m, 'backward'))),
      );
    expect(rowsWithin(m, 'backward', 1, 1e12)).toBe(1);
  });

  it('refuses a budget below the runtime, the weights, one session and one row, naming each', () => {
    const m = { total: 1024 ** 3, weightBytes: 553e6, activationFloats: 30.1e6 };
    expect(minimumBudget(m)).toBeGreaterThan(1024 ** 3);
    expect(() => assertFits(m, 'VGG16')).toThrow(
      /memory budget 1\.00 GiB is too small for VGG16: it needs about 2\.\d\d GiB \(runtime .*weights 0\.52 GiB, one session .*one run row .*raise --memory-budget/,
    );
    expect(() => assertFits({ ...m, total: minimumBudget(m) }, 'VGG16')).not.toThrow();
  });
});

describe('R in memory or on disk (vgg-mini-bn, LRP vgg16-paper γ = 0.25)', () => {
  it('spilled R gives the in-memory spectrum, scores, decomposition and conservation', async () => {
    const runner = runnerWith();
    const method = createMethod(runner, LRP);
    const mem = await analyze(method, x, { components: 4, placement: 'memory' });
    const disk = await analyze(method, x, { components: 4, placement: 'disk', spill: spillToFile(dir) });
    expect(mem.matrix.store.location).toBe('memory');
    expect(disk.matrix.store.location.startsWith(dir)).toBe(true);
    expect(existsSync(disk.matrix.store.location)).toBe(true);
    expect(() => disk.matrix.R).toThrow(/R is on disk .*matrix\.store/);
    // float32 rounding of R's entries only
    expect(maxRelErr(disk.svd.singularValues, mem.svd.singularValues)).toBeLessThan(1e-6);
    for (const k of ['sigma1', 'sensitivity', 'ssm', 'l1Norm', 'effectiveRank'] as const)
      expect(Math.abs(disk.scores[k] - mem.scores[k]) / Math.abs(mem.scores[k])).toBeLessThan(1e-6);
    expect(maxRelErr(disk.matrix.conservation, mem.matrix.conservation)).toBeLessThan(1e-6);
    const [dd, dm] = [disk.decomposition!, mem.decomposition!];
    expect(maxRelErr(dd.explanation, dm.explanation)).toBeLessThan(1e-6);
    expect(maxRelErr(dd.weights, dm.weights)).toBeLessThan(1e-5);
    expect(maxRelErr(dd.components[0], dm.components[0])).toBeLessThan(1e-5);
    expect(maxRelErr(dd.remainder, dm.remainder)).toBeLessThan(1e-4);
    // the file is a valid R.npy (Fortran order): the same float32 values as the in-memory R
    const saved = join(dir, 'R.npy');
    saveMatrix(saved, disk.matrix.store);
    const back = readNpyFile(saved);
    expect(back.shape).toEqual([mem.matrix.d, mem.matrix.c]);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(Float32Array.from(mem.matrix.R)));
    const file = disk.matrix.store.location;
    disk.matrix.store.release();
    expect(existsSync(file)).toBe(false);
    expect(() => disk.matrix.store.column(0)).toThrow(/released/);
    mem.matrix.store.release();
    await runner.release();
  });

  it('auto placement: memory when R fits next to one run (reserved until released), disk when not', async () => {
    // a wide linear model: R (4096 × 1000 float64, 33 MB) is far larger than one run's activations
    const rng = new Rng(3);
    const [nin, nout] = [4096, 1000];
    const linear = linearModel(randomArray(rng, nin * nout, 0.05), randomArray(rng, nout), nin, nout);
    const lx = randomArray(rng, nin);
    const probe = new ModelRunner(linear, new NodeEngine());
    const rBytes = nin * nout * 8;
    const bw = rowBytes(probe.memory, 'backward');
    const runner = (budget: number) => new ModelRunner(linear, new NodeEngine(), { memoryBudget: budget });
    // room for 20 × R and the runner's few sessions: R is held in memory (95 % of the rows stay),
    // reserved until released
    const roomy = runner(minimumBudget(probe.memory) + 20 * rBytes + 3 * sessionBytes(probe.memory));
    const m = await redistributionMatrix(createMethod(roomy, { method: 'gradient' }), lx, {
      spill: spillToFile(dir),
    });
    expect(m.store.location).toBe('memory');
    const [freeWithR, withR] = [roomy.freeBytes(), roomy.rowsPerRun()];
    expect(withR).toBe(Math.floor(freeWithR / bw));
    m.store.release();
    expect(roomy.freeBytes()).toBe(freeWithR + rBytes);
    expect(roomy.rowsPerRun()).toBe(Math.floor(roomy.freeBytes() / bw));
    expect(withR).toBeLessThan(roomy.rowsPerRun());
    // half of R next to one row: R would take more than 10 % of the rows, so it goes to disk
    const tight = runner(minimumBudget(probe.memory) + bw + rBytes / 2);
    const m2 = await redistributionMatrix(createMethod(tight, { method: 'gradient' }), lx, {
      spill: spillToFile(dir),
    });
    expect(m2.store.location.startsWith(dir)).toBe(true);
    // R on disk reserves nothing of the budget
    expect(tight.freeBytes()).toBe(
      tight.memory.total - committedBytes(tight.memory, Math.max(1, tight.sessionCount), 0),
    );
    const ref = await redistributionMatrix(createMethod(roomy, { method: 'gradient' }), lx);
    expect(ref.store.location).toBe('memory');
    expect(maxRelErr(columnSumsOf(m2.store), ref.conservation)).toBeLessThan(1e-6);
    const active = ref.columns.findIndex((k) => ref.outputs[k] > 0);
    expect(maxRelErr(m2.store.column(active), ref.store.column(active))).toBeLessThan(1e-6);
    // without anywhere to spill, a clear refusal before any attribution is computed
    const registered = getDefaultSpill();
    setDefaultSpill(undefined);
    try {
      await expect(redistributionMatrix(createMethod(tight, { method: 'gradient' }), lx)).rejects.toThrow(
        /R \(4096 × 1000, 0\.03 GiB in float64\) does not fit the memory budget .* has nowhere to spill: raise --memory-budget, use --matrix-free/,
      );
    } finally {
      setDefaultSpill(registered);
    }
    m2.store.release();
    ref.store.release();
    for (const r of [probe, roomy, tight]) await r.release();
  });

  it('stripes: the Gram matrix, R·y and column sums do not depend on the stripe size', async () => {
    const runner = runnerWith();
    const m = await redistributionMatrix(createMethod(runner, LRP), x);
    const exact = await thinSvd(m.R, m.d, m.c);
    // the zero columns of inactive outputs are left out of the Gram matrix: same σ_i and v_i
    const zero = m.conservation.flatMap((s, k) => (s === 0 ? [k] : []));
    expect(zero.length).toBeGreaterThan(0);
    const top = (s: { V: Float64Array; r: number; c: number }) =>
      Array.from({ length: s.c }, (_, k) => Math.abs(s.V[k * s.r]));
    for (const bytes of [8 * m.c, 8 * m.c * 7, 8 * m.c * m.d]) {
      const s = await storeSvd(m.store, undefined, bytes);
      expect(maxRelErr(s.singularValues, exact.singularValues)).toBeLessThan(1e-12);
      expect(maxRelErr(top(s), top(exact))).toBeLessThan(1e-9);
      for (const k of zero) expect(s.V[k * s.r]).toBe(0);
      // ONNX Runtime's float64 MatMul on float32-rounded stripes (what analyze uses for large R)
      const onEngine = await storeSvd(m.store, gramOnEngine(runner.engine), bytes);
      expect(maxRelErr(onEngine.singularValues, exact.singularValues)).toBeLessThan(1e-6);
      const y = Array.from({ length: m.c }, (_, k) => Math.sin(k + 1));
      const [a] = applyMany(m.store, [y], bytes);
      const [b] = applyMany(memoryStore(m.R, m.d, m.c), [y]);
      expect(maxRelErr(a, b)).toBe(0);
      expect(maxRelErr(columnSumsOf(m.store, true, bytes), columnSumsOf(m.store, true))).toBeLessThan(1e-13);
    }
    const dc = decompose(
      m.R,
      exact,
      Array.from({ length: m.c }, (_, k) => Math.cos(k)),
      3,
    );
    const sum = Float64Array.from(dc.remainder);
    for (const comp of dc.components) for (let i = 0; i < sum.length; i++) sum[i] += comp[i];
    expect(maxRelErr(sum, dc.explanation)).toBeLessThan(1e-12);
    await runner.release();
  });

  it('the Node entry point registers a temporary file as the default spill', async () => {
    await import('../src/api/node.js');
    const spill = getDefaultSpill();
    expect(spill).toBeDefined();
    const store = spill!(3, 2);
    expect(existsSync(store.location)).toBe(true);
    store.writeColumn(1, [1, 2, 3], 0.5);
    expect(Array.from(store.rows(0, 3))).toEqual([0, 0.5, 0, 1, 0, 1.5]);
    store.release();
    expect(existsSync(store.location)).toBe(false);
  });

  it('refuses a spill folder that cannot be created, naming it', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const runner = runnerWith();
    await expect(
      redistributionMatrix(createMethod(runner, LRP), x, {
        placement: 'disk',
        spill: spillToFile(join(file, 'sub')),
      }),
    ).rejects.toThrow(/must go to disk, but its folder .*a-file\/sub cannot be created/);
    await runner.release();
  });
});

describe('analyze on the command line: an R that does not fit --memory-budget goes to --spill-dir', () => {
  it('gives the in-memory numbers and saves the same R.npy, and leaves no file behind', () => {
    // 1×64×64 → Flatten → Gemm(4096 → 1000): R (4096 × 1000 float64, 33 MB) dwarfs one run
    const rng = new Rng(5);
    const [H, c] = [64, 1000];
    const built = graphModel(
      (g, xin) => {
        const f = g.op('Flatten', [xin], { axis: 1 });
        const W = g.initializer('W', [c, H * H], randomArray(rng, c * H * H, 0.02));
        return g.op('Gemm', [f, W, g.initializer('b', [c], randomArray(rng, c))], { transB: 1 });
      },
      [1, H, H],
      ['N', c],
    );
    const onnx = join(dir, 'wide-linear.onnx');
    writeFileSync(onnx, built.bytes);
    const xnpy = join(dir, 'wide-linear.x.npy');
    writeNpyFile(xnpy, { shape: [1, H, H], data: randomArray(rng, H * H) });
    const probe = new ModelRunner(built.model(), new NodeEngine());
    const rBytes = H * H * c * 8;
    const tight = minimumBudget(probe.memory) + rowBytes(probe.memory, 'backward') + rBytes / 2;
    const spillDir = join(dir, 'spill');
    const base = [
      'analyze',
      '--model',
      onnx,
      '--input',
      xnpy,
      '--method',
      'gradient',
      '--preprocess',
      'none',
    ];
    const mem = xspectra([...base, '--json', '--save-matrix', join(dir, 'mem.npy')]);
    expect(mem.stderr).toBe('');
    const disk = xspectra([
      ...base,
      '--json',
      '--memory-budget',
      String(tight / 1024 ** 3),
      '--spill-dir',
      spillDir,
      '--save-matrix',
      join(dir, 'disk.npy'),
    ]);
    expect(disk.stderr).toBe('');
    expect(disk.code).toBe(0);
    const [a, b] = [JSON.parse(mem.stdout), JSON.parse(disk.stdout)];
    expect([a.storage, b.storage]).toEqual(['memory', 'disk']);
    expect(maxRelErr(b.singularValues, a.singularValues)).toBeLessThan(1e-6);
    expect(Math.abs(b.scores.ssm - a.scores.ssm) / a.scores.ssm).toBeLessThan(1e-6);
    // the spilled R, saved as it is (Fortran order), holds the same float32 values
    const [ra, rb] = [readNpyFile(join(dir, 'mem.npy')), readNpyFile(join(dir, 'disk.npy'))];
    expect(rb.shape).toEqual([H * H, c]);
    expect(
      Buffer.from((rb.data as Float32Array).buffer).equals(Buffer.from((ra.data as Float32Array).buffer)),
    ).toBe(true);
    expect(readdirSync(spillDir)).toEqual([]);
    // a budget below one session and one row is refused before anything runs, naming the parts
    const low = xspectra([...base, '--memory-budget', '0.1']);
    expect(low.code).not.toBe(0);
    expect(low.stderr).toMatch(
      /memory budget 0\.10 GiB is too small .*weights .*one session .*raise --memory-budget/,
    );
  });
});

describe('.npy in Fortran order (numpy.save of np.asfortranarray)', () => {
  it('reads as the same row-major array', () => {
    const f4 = parseNpy(
      Buffer.from(
        'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAEDAAABAQAAAgL8AAKBAAACAPwAA4EAAACDAAABgQAAAAL8AALBAAADAPwAA8EAAAADAAACAQAAAAAAAAMBAAAAAQAAAAEEAAMC/AACQQAAAAD8AANBAAAAgQAAACEE=',
        'base64',
      ),
    );
    // np.arange(24).reshape(2, 3, 4) * 0.5 - 3
    expect(f4.shape).toEqual([2, 3, 4]);
    expect(Array.from(f4.data as Float32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i * 0.5 - 3));
    const f8 = parseNpy(
      Buffer.from(
        'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADQPwAAAAAAAApAAAAAAAAA9D8AAAAAAAARQAAAAAAAAAJAAAAAAAAAFUA=',
        'base64',
      ),
    );
    expect(Array.from(f8.data as Float64Array)).toEqual([0.25, 1.25, 2.25, 3.25, 4.25, 5.25]);
  });
});

describe('ONNX Runtime weight pre-packing (runtime/node.ts)', () => {
  it("'auto' pre-packs small graphs (run results independent of the rows per run) and not large ones (VGG16: 4 s of session creation)", async () => {
    const auto = new NodeEngine();
    expect(auto.prepacks(1024)).toBe(true);
    expect(auto.prepacks(LARGE_GRAPH_BYTES + 1)).toBe(false);
    expect(new NodeEngine({ prepack: true }).prepacks(LARGE_GRAPH_BYTES + 1)).toBe(true);
    expect(new NodeEngine({ prepack: false }).prepacks(1024)).toBe(false);
    // either way the same numbers (to float32 rounding) on a real model
    const model = loadModelFile(join(FIXTURES, 'models', 'vgg-mini-bn.onnx'));
    const { x, d } = inputs('vgg-mini-bn');
    const [on, off] = await Promise.all(
      [true, false].map(async (prepack) => {
        const r = new ModelRunner(model, new NodeEngine({ prepack }));
        const out = await r.forward(x.slice(0, d), 1);
        await r.release();
        return out;
      }),
    );
    expect(maxRelErr(off, on)).toBeLessThan(1e-5);
  });
});
