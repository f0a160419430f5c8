/**
 * Property-based fuzzing (fast-check) of every parser that reads user input: NPY, ONNX (byte
 * and structural mutations, with ONNX Runtime's own check), PNG/JPEG, IDX, composite strings
 * and parameter grids. Property: each input either parses to something consistent, or fails
 * with the parser's own typed error whose message names the input, never a raw exception
 * (RangeError, TypeError, "Offset is outside the bounds of the DataView", …) or a silent
 * success with inconsistent data. Seeds are fixed (reproducible); case counts are printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { IdxError, parseIdx } from '../src/data/idx.js';
import { GridError, parseGrid } from '../src/experiments/grid.js';
import { decodeImageBytes, ImageError } from '../src/io/images.js';
import { encodeNpy, NpyError, parseNpy } from '../src/io/npy.js';
import { ModelError } from '../src/model/ir.js';
import { parseModel } from '../src/model/load.js';
import { checkWithOnnxRuntime } from '../src/model/load-file.js';
import { onnx } from '../src/model/onnx-proto.js';
import { presetComposite } from '../src/rules/composites.js';
import { RuleError } from '../src/rules/rules.js';
import { FIXTURES } from './helpers/fixtures.js';

const counts: Record<string, number> = {};
afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const lines = Object.entries(counts).map(([k, v]) => `  ${k.padEnd(34)} ${v}`);
  console.log(`fuzz cases (${total} in all):\n${lines.join('\n')}`);
});

/** Run `f`; it must return normally or throw an instance of `type` whose message names `name` */
function typed<T>(
  label: string,
  type: new (...a: never[]) => Error,
  name: string,
  f: () => T,
): { ok: true; value: T } | { ok: false } {
  counts[label] = (counts[label] ?? 0) + 1;
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (!(e instanceof type))
      throw new Error(`${label}: raw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (!(e as Error).message.includes(name))
      throw new Error(`${label}: message does not name "${name}": ${(e as Error).message}`);
    return { ok: false };
  }
}

/** Byte-level mutations of a valid file: flips, overwrites, truncation, insertions */
function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), v: fc.constant(0) }),
    fc.record({ kind: fc.constant('ins' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('ff' as const), at: fc.nat(), v: fc.constant(0xff) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = Uint8Array.from(base);
    for (const e of edits) {
      const at = b.length ? e.at % b.length : 0;
      if (e.kind === 'set' || e.kind === 'ff') b[at] = e.v;
      else if (e.kind === 'cut') b = b.slice(0, at);
      else b = Uint8Array.from([...b.subarray(0, at), e.v, ...b.subarray(at)]);
    }
    return b;
  });
}

const RUNS = { seed: 1313, numRuns: 0 };
const run = (n: number) => ({ ...RUNS, numRuns: n });

describe('fuzz: NPY', () => {
  const valid = encodeNpy({ shape: [2, 3, 4], data: Float32Array.from({ length: 24 }, (_, i) => i / 7) });
  const check = (label: string) => (b: Uint8Array) => {
    const r = typed(label, NpyError, 'fuzz.npy', () => parseNpy(b, 'fuzz.npy'));
    if (r.ok) expect(r.value.data.length).toBe(r.value.shape.reduce((a, c) => a * c, 1));
  };
  it('mutated valid files', () => fc.assert(fc.property(mutated(valid), check('npy mutated')), run(2500)));
  it('random bytes after the magic', () =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) =>
        check('npy random')(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, ...tail])),
      ),
      run(1000),
    ));
  it('header shapes of any text', () =>
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('<f4', '<f8', '<i4', '|u1', '<c8'),
        (shape, dt) => {
          const header = `{'descr': '${dt}', 'fortran_order': False, 'shape': (${shape}), }`;
          const h = new TextEncoder().encode(header);
          const b = new Uint8Array(10 + h.length + 64);
          b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
          b.set(h, 10);
          check('npy header shape')(b);
        },
      ),
      run(1000),
    ));
});

describe('fuzz: IDX', () => {
  const valid = new Uint8Array(4 + 12 + 2 * 3 * 3);
  valid.set([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3]);
  const check = (label: string) => (b: Uint8Array) => {
    const r = typed(label, IdxError, 'fuzz.idx', () => parseIdx(b, 'fuzz.idx'));
    if (r.ok) expect(r.value.data.length).toBe(r.value.shape.reduce((a, c) => a * c, 1));
  };
  it('mutated valid files', () => fc.assert(fc.property(mutated(valid), check('idx mutated')), run(2000)));
  it('random bytes', () =>
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check('idx random')), run(1000)));
});

describe('fuzz: PNG and JPEG', () => {
  const w = 6;
  const h = 5;
  const rgba = Buffer.from(Array.from({ length: w * h * 4 }, (_, i) => (i * 37) % 256));
  const png = new PNG({ width: w, height: h });
  rgba.copy(png.data);
  const validPng = new Uint8Array(PNG.sync.write(png));
  const validJpeg = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 90).data);
  const check = (label: string) => (b: Uint8Array) => {
    const r = typed(label, ImageError, 'fuzz.img', () => decodeImageBytes(b, 'fuzz.img', 64 * 1024 ** 2));
    if (r.ok) expect(r.value.data.length).toBe(r.value.width * r.value.height * 3);
  };
  it('mutated PNG', () => fc.assert(fc.property(mutated(validPng), check('png mutated')), run(1500)));
  it('mutated JPEG', () => fc.assert(fc.property(mutated(validJpeg), check('jpeg mutated')), run(1500)));
  it('PNG headers claiming any size are refused before decoding when over budget', () =>
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (W, H) => {
          const b = Uint8Array.from(validPng);
          new DataView(b.buffer).setUint32(16, W);
          new DataView(b.buffer).setUint32(20, H);
          const r = typed('png header dims', ImageError, 'fuzz.img', () =>
            decodeImageBytes(b, 'fuzz.img', 64 * 1024 ** 2),
          );
          if (r.ok) expect([r.value.width, r.value.height]).toEqual([W, H]);
          if (W * H * 32 > 64 * 1024 ** 2) expect(r.ok).toBe(false);
        },
      ),
      run(500),
    ));
});

describe('fuzz: ONNX', () => {
  const file = join(FIXTURES, 'extra', 'small-opset13.onnx');
  const valid = new Uint8Array(readFileSync(file));
  it('mutated bytes', () =>
    fc.assert(
      fc.property(mutated(valid), (b) => {
        typed('onnx bytes mutated', ModelError, 'fuzz.onnx', () => parseModel(b, { source: 'fuzz.onnx' }));
      }),
      run(1500),
    ));

  // structural mutations: valid protobuf, wrong content (the cases that byte flips rarely reach)
  const base = onnx.ModelProto.decode(valid);
  const nodes = base.graph!.node!.length;
  const inits = base.graph!.initializer!.length;
  const mutation = fc.oneof(
    fc.record({ k: fc.constant('dims'), i: fc.nat(inits - 1), d: fc.integer({ min: -3, max: 40 }) }),
    fc.record({ k: fc.constant('dropValues'), i: fc.nat(inits - 1), d: fc.nat(50) }),
    fc.record({ k: fc.constant('extraRaw'), i: fc.nat(inits - 1), d: fc.integer({ min: 1, max: 9 }) }),
    fc.record({ k: fc.constant('attrName'), i: fc.nat(nodes - 1), d: fc.nat(5) }),
    fc.record({ k: fc.constant('attrValue'), i: fc.nat(nodes - 1), d: fc.integer({ min: -2, max: 9 }) }),
    fc.record({ k: fc.constant('input'), i: fc.nat(nodes - 1), d: fc.nat(3) }),
    fc.record({ k: fc.constant('op'), i: fc.nat(nodes - 1), d: fc.nat(4) }),
    fc.record({ k: fc.constant('graphInput'), i: fc.constant(0), d: fc.nat(2) }),
  );
  const ops = ['Relu', 'Conv', 'MaxPool', 'Gemm', 'Flatten'];
  function apply(muts: { k: string; i: number; d: number }[]): Uint8Array {
    const m = onnx.ModelProto.decode(valid);
    const g = m.graph!;
    for (const { k, i, d } of muts) {
      const t = g.initializer![i];
      const n = g.node![i];
      if (k === 'dims' && t.dims!.length)
        t.dims![d % t.dims!.length >= 0 ? Math.abs(d) % t.dims!.length : 0] = d;
      else if (k === 'dropValues') {
        if (t.rawData?.length) t.rawData = t.rawData.subarray(0, Math.max(0, t.rawData.length - 4 * (d + 1)));
        else if (t.floatData?.length)
          t.floatData = t.floatData.slice(0, Math.max(0, t.floatData.length - d - 1));
      } else if (k === 'extraRaw' && t.rawData?.length)
        t.rawData = Uint8Array.from([...t.rawData, ...Array(d).fill(0)]);
      else if (k === 'attrName' && n.attribute?.length) {
        const a = n.attribute[d % n.attribute.length];
        a.name = `${a.name!.slice(0, 2)}${'xk'[d % 2]}${a.name!.slice(3)}`;
      } else if (k === 'attrValue' && n.attribute?.length) {
        const a = n.attribute[Math.abs(d) % n.attribute.length];
        if (a.ints?.length) a.ints[0] = d;
        else a.i = d;
      } else if (k === 'input' && n.input?.length) n.input[d % n.input.length] = `x${d}`;
      else if (k === 'op') n.opType = ops[d];
      else if (k === 'graphInput') {
        if (d === 0) g.input = [...g.input!, onnx.ValueInfoProto.create({ name: 'x2' })];
        else if (d === 1) g.input = g.input!.slice(1);
      }
    }
    return onnx.ModelProto.encode(m).finish();
  }
  it('structural mutations: our validation, then ONNX Runtime on what we accept', async () => {
    let accepted = 0;
    let refusedByOrt = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (muts) => {
        const b = apply(muts);
        const r = typed('onnx structural', ModelError, 'fuzz.onnx', () =>
          parseModel(b, { source: 'fuzz.onnx' }),
        );
        if (!r.ok) return;
        accepted++;
        try {
          await checkWithOnnxRuntime(b, 'fuzz.onnx');
        } catch (e) {
          expect(e).toBeInstanceOf(ModelError);
          if (process.env.FUZZ_VERBOSE) console.log((e as Error).message);
          expect((e as Error).message).toMatch(/^fuzz\.onnx: ONNX Runtime refuses the model: /);
          refusedByOrt++;
        }
      }),
      run(800),
    );
    console.log(
      `onnx structural: ${accepted} of 800 accepted by validate.ts, ${refusedByOrt} of those then refused by ONNX Runtime`,
    );
  }, 120_000);
});

describe('fuzz: composite strings and grids', () => {
  const token = fc.constantFrom(
    '*',
    'first',
    'last',
    'conv',
    'linear',
    'block<=2',
    'block>1',
    'index=3',
    'name~(',
    'name~c.*',
    '&',
    '=',
    ',',
    ':',
    'gamma',
    'epsilon',
    'zbox',
    'alphabeta',
    'flat',
    'zplus',
    'wsquare',
    'gradient',
    'bogus',
    '0',
    '-1',
    '0.25',
    'inf',
    'nan',
    '1e-6',
    '2',
    '',
  );
  it('composite strings', () =>
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (parts) => {
        const spec = parts.join('');
        const r = typed('composite', RuleError, spec.slice(0, 20), () =>
          presetComposite(spec, 0.25, { low: [0], high: [1] }),
        );
        if (r.ok) expect(r.value.entries.length).toBeGreaterThan(0);
      }),
      run(3000),
    ));
  it('grids', () =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 24 }),
          fc
            .tuple(
              fc.constantFrom('logspace', 'linspace', 'lin', ''),
              fc.array(fc.constantFrom('0', '1', '-3', '2.5', 'inf', 'x', '1e9', '400', '1000000000', ''), {
                maxLength: 4,
              }),
            )
            .map(([k, v]) => `${k}:${v.join(',')}`),
        ),
        (text) => {
          const r = typed('grid', GridError, '--gamma-grid', () => parseGrid(text, '--gamma-grid', 10_000));
          if (r.ok) {
            expect(r.value.length).toBeGreaterThan(0);
            expect(r.value.length).toBeLessThanOrEqual(10_000);
            for (const v of r.value) expect(Number.isNaN(v)).toBe(false);
          }
        },
      ),
      run(3000),
    ));
});
