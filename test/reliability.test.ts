/**
 * Issue 13, case by case, through the CLI: every case either fails with a one-line error that
 * names the culprit (exit ≠ 0, no output file, no temp file left) or gives a correct result.
 * Numbers in the test names refer to the issue's list.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { type ModelProto, onnx } from '../src/model/onnx-proto.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'xspectra-rel-'));
const MNIST = join(FIXTURES, 'models', 'mnist-cnn.onnx');
const { x, d } = inputs('mnist-cnn');
const x0 = join(tmp, 'x0.npy');
writeFileSync(x0, encodeNpy({ shape: [1, 1, 28, 28], data: x.slice(0, d) }));
const three = join(tmp, 'three.npy');
writeFileSync(three, encodeNpy({ shape: [3, 1, 28, 28], data: x.slice(0, 3 * d) }));

const attr = (out: string, ...more: string[]) => [
  'attribute',
  '--model',
  MNIST,
  '--input',
  x0,
  '--method',
  'gradient',
  '--out',
  out,
  ...more,
];

const sweepArgs = (db: string, data: string, ...more: string[]) => [
  'sweep',
  '--model',
  MNIST,
  '--data',
  data,
  '--db',
  db,
  '--no-progress',
  ...more,
];

/** exit ≠ 0, one stderr line matching every pattern, and no output */
function refused(r: { code: number; stderr: string }, patterns: RegExp[], out?: string) {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  for (const p of patterns) expect(lines[0]).toMatch(p);
  if (out) expect(existsSync(out), `${out} must not exist`).toBe(false);
}

function noTempFiles(dir: string) {
  expect(readdirSync(dir).filter((f) => /\.tmp-|xspectra-probe/.test(f))).toEqual([]);
}

/** The fixture model with `edit` applied to its protobuf, written to tmp */
function editedModel(name: string, edit: (m: ModelProto) => void): string {
  const m = onnx.ModelProto.decode(readFileSync(MNIST));
  edit(m);
  const p = join(tmp, name);
  writeFileSync(p, onnx.ModelProto.encode(m).finish());
  return p;
}
const node = (m: ModelProto, op: string) => m.graph!.node!.find((n) => n.opType === op)!;

describe('1. outputs: special files and symlinks', () => {
  it('/dev/null as --out: written in place, stays a device', () => {
    const r = xspectra(attr('/dev/null'));
    expect(r.code, r.stderr).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
  it('/dev/full as --out: a clear ENOSPC error, the device untouched', () => {
    const r = xspectra(attr('/dev/full'));
    refused(r, [/cannot write \/dev\/full/, /ENOSPC/]);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });
  it('a FIFO as --out: the reader gets the NPY, the FIFO stays a FIFO', async () => {
    const fifo = join(tmp, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const got: Buffer[] = [];
    const reader = spawn('cat', [fifo]);
    reader.stdout.on('data', (b: Buffer) => got.push(b));
    const done = new Promise((res) => reader.on('exit', res));
    const r = xspectra(attr(fifo));
    await done;
    expect(r.code, r.stderr).toBe(0);
    expect(parseNpy(Buffer.concat(got)).shape).toEqual([10, 1, 28, 28]);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
  it('a symlink as --out: the link is followed and stays a link', () => {
    const target = join(tmp, 'real.npy');
    const link = join(tmp, 'link.npy');
    symlinkSync(target, link);
    const r = xspectra(attr(link));
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(parseNpy(readFileSync(target)).shape).toEqual([10, 1, 28, 28]);
    noTempFiles(tmp);
  });
  it('missing parent folders of --out are created', () => {
    const out = join(tmp, 'new', 'deeper', 'a.npy');
    const r = xspectra(attr(out));
    expect(r.code, r.stderr).toBe(0);
    expect(parseNpy(readFileSync(out)).shape).toEqual([10, 1, 28, 28]);
  });
});

describe('2. corrupt models are refused, naming tensor / node / op / attribute', () => {
  const run = (model: string) => xspectra(attr(join(tmp, 'never.npy'), '--model', model));
  it('an initializer with fewer values than its shape', () => {
    const p = editedModel('short.onnx', (m) => {
      const t = m.graph!.initializer![0];
      t.rawData = t.rawData!.subarray(0, t.rawData!.length - 8);
    });
    refused(run(p), [/short\.onnx/, /tensor "features\.0\.weight"/, /1144 raw bytes/]);
  });
  it('extra raw bytes in an initializer', () => {
    const p = editedModel('long.onnx', (m) => {
      const t = m.graph!.initializer![1];
      t.rawData = Uint8Array.from([...t.rawData!, 0, 0, 0, 0]);
    });
    refused(run(p), [/tensor "features\.0\.bias"/, /132 raw bytes/]);
  });
  it('misspelled attributes: ceik_mode and dilatikns', () => {
    const a = editedModel('ceik.onnx', (m) => {
      node(m, 'MaxPool').attribute!.find((x) => x.name === 'ceil_mode')!.name = 'ceik_mode';
    });
    refused(run(a), [/node "\/features\/features\.6\/MaxPool" \(MaxPool\)/, /unknown attribute "ceik_mode"/]);
    const b = editedModel('dilat.onnx', (m) => {
      node(m, 'Conv').attribute!.find((x) => x.name === 'dilations')!.name = 'dilatikns';
    });
    refused(run(b), [/\(Conv\)/, /unknown attribute "dilatikns"/]);
  });
  it("a model only ONNX Runtime refuses is refused with ONNX Runtime's message", () => {
    const p = editedModel('opset.onnx', (m) => {
      m.opsetImport![0].version = 999;
    });
    refused(run(p), [/opset\.onnx: ONNX Runtime refuses the model/]);
  });
});

describe('3. no exit 0 with NaN or all-zero output', () => {
  const method = (...more: string[]) => xspectra(attr(join(tmp, 'never.npy'), ...more));
  it('--samples 0 and -5 (Shapley)', () => {
    refused(method('--method', 'shapley', '--samples', '0'), [/--samples expects an integer ≥ 1, got "0"/]);
    refused(method('--method', 'shapley', '--samples', '-5'), [/--samples .*"-5"/]);
  });
  it('--noise inf and 1e308 (SmoothGrad)', () => {
    refused(method('--method', 'sg', '--noise', 'inf'), [/--noise expects a finite number/]);
    refused(method('--method', 'sg', '--noise', '1e308'), [/--noise .*≤ 100/]);
  });
  it('NaN inside --noise-file', () => {
    const eps = new Float32Array(2 * d);
    eps[5] = Number.NaN;
    const f = join(tmp, 'eps.npy');
    writeFileSync(f, encodeNpy({ shape: [2, 1, 28, 28], data: eps }));
    refused(method('--method', 'sg', '--noise-file', f), [
      /--noise-file .*eps\.npy: holds NaN at flat index 5/,
    ]);
  });
  it('--composite "*=epsilon:-1"', () => {
    refused(method('--method', 'lrp', '--composite', '*=epsilon:-1'), [
      /composite "\*=epsilon:-1"/,
      /must be a finite number > 0/,
    ]);
  });
  const evaluate = (...more: string[]) => xspectra(['evaluate', '--model', MNIST, '--input', x0, ...more]);
  it('evaluate --flip-steps 0, --fraction -0.1, --metrics foo', () => {
    refused(evaluate('--flip-steps', '0'), [/--flip-steps expects an integer ≥ 1/]);
    refused(evaluate('--fraction', '-0.1'), [/--fraction expects a finite number > 0 and ≤ 1/]);
    refused(evaluate('--metrics', 'foo'), [/--metrics: unknown name "foo" \(known: pf, entropy\)/]);
  });
  it('an all-zero result is written with a warning', () => {
    const zero = join(tmp, 'zero.npy');
    writeFileSync(zero, encodeNpy({ shape: [1, 1, 28, 28], data: new Float32Array(d) }));
    const out = join(tmp, 'gi-zero.npy');
    const r = xspectra(['attribute', '--model', MNIST, '--input', zero, '--method', 'gi', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: attribute gi: every value is 0/);
    expect((parseNpy(readFileSync(out)).data as Float32Array).every((v) => v === 0)).toBe(true);
  });
});

describe('4. sweep rows are keyed by content; seeds are integers; resumes fill metrics', () => {
  const sweep = (db: string, data: string, ...more: string[]) =>
    xspectra(sweepArgs(db, data, '--method', 'gradient', ...more));
  const count = (db: string, where = '1') => {
    const h = new Database(db, { readonly: true });
    const n = (h.prepare(`SELECT COUNT(*) AS n FROM results WHERE ${where}`).get() as { n: number }).n;
    h.close();
    return n;
  };
  it('one NPY under three spellings of its path gives 3 rows for 3 images, not 9', () => {
    const db = join(tmp, 'spell.sqlite');
    mkdirSync(join(tmp, 'sub'), { recursive: true });
    const spellings = [three, relative(ROOT, three), join(tmp, 'sub', '..', 'three.npy')];
    const outs = spellings.map((s) => sweep(db, s, '--metrics', 'entropy'));
    for (const r of outs) expect(r.code, r.stderr).toBe(0);
    expect(outs[0].stdout).toMatch(/computed 3, skipped 0/);
    expect(outs[1].stdout).toMatch(/computed 0, skipped 3/);
    expect(outs[2].stdout).toMatch(/computed 0, skipped 3/);
    expect(count(db)).toBe(3);
  });
  it('--seed 1.5 and --seed 2^32+1 are refused', () => {
    const db = join(tmp, 'seed.sqlite');
    refused(
      sweep(db, x0, '--seed', '1.5'),
      [/--seed expects an integer ≥ 0 and ≤ 4294967295, got "1.5"/],
      db,
    );
    refused(sweep(db, x0, '--seed', '4294967297'), [/--seed .*"4294967297"/], db);
  });
  it('a sweep resumed with more --metrics computes the missing ones', () => {
    const db = join(tmp, 'metrics.sqlite');
    expect(sweep(db, three, '--metrics', 'entropy').code).toBe(0);
    expect(count(db, 'pfAuc IS NULL')).toBe(3);
    const r = sweep(db, three, '--metrics', 'pf,entropy');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/computed 0, skipped 0 \(already stored\), completed the metrics of 3/);
    expect(count(db, 'pfAuc IS NULL')).toBe(0);
    expect(count(db)).toBe(3);
  });
});

describe('5. merge: exit codes, no files for missing sources, no empty target', () => {
  const sweep = (db: string) =>
    xspectra(sweepArgs(db, three, '--method', 'gradient', '--metrics', 'entropy'));
  it('conflicts exit with 3', () => {
    const a = join(tmp, 'ma.sqlite');
    const b = join(tmp, 'mb.sqlite');
    expect(sweep(a).code).toBe(0);
    expect(sweep(b).code).toBe(0);
    const h = new Database(b);
    h.prepare('UPDATE results SET ssm = ssm + 1 WHERE rowid = (SELECT MIN(rowid) FROM results)').run();
    h.close();
    const r = xspectra(['merge', '--db', a, b]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/added 0 rows, 2 already present, 1 conflicting/);
  });
  it('a missing source: exit ≠ 0, no file created for it, no target left behind', () => {
    const target = join(tmp, 'mt.sqlite');
    const missing = join(tmp, 'missing.sqlite');
    refused(
      xspectra(['merge', '--db', target, join(tmp, 'ma.sqlite'), missing]),
      [/merge source .*missing\.sqlite: no such file/],
      target,
    );
    expect(existsSync(missing)).toBe(false);
  });
  it('a source that is not a database: named, and no target left behind', () => {
    const target = join(tmp, 'mt2.sqlite');
    const junk = join(tmp, 'junk.sqlite');
    writeFileSync(junk, 'not a database at all, just text '.repeat(10));
    refused(xspectra(['merge', '--db', target, junk]), [/junk\.sqlite/, /not a database/], target);
  });
});

describe('6. resource limits are checked before allocating', () => {
  it('a 20000×20000 PNG header with 100 bytes of data', () => {
    const png = new Uint8Array(8 + 25 + 100 + 12);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    const v = new DataView(png.buffer);
    v.setUint32(16, 20000);
    v.setUint32(20, 20000);
    png.set([8, 2, 0, 0, 0], 24);
    png.set([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44], png.length - 12);
    const f = join(tmp, 'huge.png');
    writeFileSync(f, png);
    const t0 = Date.now();
    refused(xspectra(attr(join(tmp, 'never.npy'), '--input', f)), [
      /huge\.png: 20000×20000 pixels need about 11\.9 GiB/,
    ]);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
  const grid = (g: string) =>
    xspectra(['sweep', '--model', MNIST, '--data', x0, '--gamma-grid', g, '--db', join(tmp, 'grid.sqlite')]);
  it('--gamma-grid linspace:0,1,1000000000', () => {
    refused(grid('linspace:0,1,1000000000'), [
      // the limit scales with the memory budget (default 4 GiB)
      /--gamma-grid: grid "linspace:0,1,1000000000": 1000000000 points, more than the limit of 4194304/,
    ]);
  });
  it('--gamma-grid logspace:1,2 says the grid syntax is wrong', () => {
    refused(grid('logspace:1,2'), [
      /--gamma-grid: bad grid syntax "logspace:1,2": expected logspace:a,b,n or linspace:a,b,n/,
    ]);
  });
  it('--steps 100000000 and 10000000 fail at once, over the memory budget', () => {
    for (const steps of ['100000000', '10000000']) {
      const t0 = Date.now();
      const r = xspectra(attr(join(tmp, 'never.npy'), '--method', 'ig', '--steps', steps));
      refused(r, [new RegExp(`--steps ${steps}: needs about .* GiB, over the memory budget of 4\\.00 GiB`)]);
      expect(Date.now() - t0).toBeLessThan(30_000);
    }
  });
});

describe('7. partial files, output locations, two sweeps on one store', () => {
  it('a write that fails midway (file size limit) leaves neither the file nor a temp file', () => {
    const dir = join(tmp, 'efbig');
    mkdirSync(dir);
    const out = join(dir, 'a.npy');
    const node = process.execPath;
    const cmd = `ulimit -f 8; exec "${node}" "${join(ROOT, 'bin', 'xspectra.js')}" ${attr(out)
      .map((a) => `"${a}"`)
      .join(' ')}`;
    let code = 0;
    let stderr = '';
    try {
      execFileSync('bash', ['-c', cmd], { stdio: 'pipe', cwd: ROOT });
    } catch (e) {
      code = (e as { status: number }).status;
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/cannot write .*a\.npy: EFBIG/);
    expect(readdirSync(dir)).toEqual([]);
  });
  it('an unwritable --out fails before any computation, naming the flag', () => {
    const file = join(tmp, 'plain.txt');
    writeFileSync(file, 'x');
    // 1000 Shapley permutations would take minutes; the refusal comes first
    const r = xspectra(attr(join(file, 'a.npy'), '--method', 'shapley', '--samples', '1000'));
    refused(r, [/--out .*plain\.txt\/a\.npy: cannot create the folder/]);
  });
  it('a folder as --save-matrix, and a text file as --db, are named', () => {
    refused(xspectra(['analyze', '--model', MNIST, '--input', x0, '--save-matrix', tmp]), [
      /--save-matrix .*: is a folder/,
    ]);
    const notDb = join(tmp, 'text.db');
    writeFileSync(notDb, 'hello, this is not SQLite '.repeat(20));
    refused(xspectra(['sweep', '--model', MNIST, '--data', x0, '--method', 'gradient', '--db', notDb]), [
      /result store .*text\.db: file is not a database/,
    ]);
  });
  it('two sweeps on one store at once split the work; no error, nothing twice', async () => {
    const db = join(tmp, 'both.sqlite');
    const args = sweepArgs(db, three, '--method', 'lrp', '--gamma', '0,0.1,1,10', '--metrics', 'entropy');
    const runOne = () =>
      new Promise<{ code: number; out: string; err: string }>((res) => {
        const p = spawn(process.execPath, [join(ROOT, 'bin', 'xspectra.js'), ...args]);
        let out = '';
        let err = '';
        p.stdout.on('data', (b) => (out += b));
        p.stderr.on('data', (b) => (err += b));
        p.on('exit', (code) => res({ code: code ?? -1, out, err }));
      });
    const [a, b] = await Promise.all([runOne(), runOne()]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const computed = [a, b].map((r) => Number(/computed (\d+)/.exec(r.out)![1]));
    expect(computed[0] + computed[1]).toBe(12);
    const h = new Database(db, { readonly: true });
    expect((h.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n).toBe(12);
    expect((h.prepare('SELECT COUNT(*) AS n FROM claims').get() as { n: number }).n).toBe(0);
    h.close();
  }, 120_000);
});

describe('8. clear messages', () => {
  const run = (model: string) => xspectra(attr(join(tmp, 'never.npy'), '--model', model));
  it('stride 0 names the node and the attribute', () => {
    const p = editedModel('stride0.onnx', (m) => {
      node(m, 'Conv').attribute!.find((a) => a.name === 'strides')!.ints = [0, 0];
    });
    refused(run(p), [
      /node "\/features\/features\.0\/Conv" \(Conv\): attribute "strides" = \[0,0\]: must be each ≥ 1/,
    ]);
  });
  it('two graph inputs', () => {
    const p = editedModel('two-inputs.onnx', (m) => {
      m.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'x2' }));
    });
    refused(run(p), [/the graph has 2 inputs \(.*"x2"\); xspectra explains models with exactly one input/]);
  });
  it('a Flatten into a dense layer of the wrong width names the layer, not a typed-array length', () => {
    const p = editedModel('width.onnx', (m) => {
      const w = m.graph!.initializer!.find((t) => t.name === 'classifier.weight')!;
      w.dims = [10, 3000];
      w.rawData = w.rawData!.subarray(0, 10 * 3000 * 4);
    });
    refused(run(p), [/width\.onnx/, /Gemm|classifier/]);
  });
  it('--block 0', () => {
    refused(xspectra(['analyze', '--model', MNIST, '--input', x0, '--matrix-free', '--block', '0']), [
      /--block expects an integer ≥ 1, got "0"/,
    ]);
  });
});

describe('after all of the above', () => {
  it('no temp or probe file is left anywhere under the test folder', () => {
    const all = readdirSync(tmp, { recursive: true }).map(String);
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((f) => /\.tmp-|xspectra-probe/.test(f))).toEqual([]);
  });
});
