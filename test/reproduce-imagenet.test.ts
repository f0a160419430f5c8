/**
 * `xspectra reproduce imagenet` end to end on a small VGG-style model (vgg-mini-bn, 10 outputs)
 * and the fixture photos: the report is written, a rerun resumes everything, and the stored
 * numbers equal those of `xspectra analyze` on the same settings (exact and matrix-free).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { imagenetConfig, PF_CHUNK, runImagenet } from '../src/experiments/reproduce-imagenet.js';
import { ResultStore } from '../src/experiments/store.js';
import { decodeImage, preprocessImage } from '../src/io/images.js';
import { loadModelFile } from '../src/model/load-file.js';
import { minimumBudget, rowBytes } from '../src/runtime/memory.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { xspectra } from './helpers/cli.js';
import { countingEngine } from './helpers/fixtures.js';

const MODEL = 'test/fixtures/models/vgg-mini-bn.onnx';
const IMAGES = 'test/fixtures/images';

interface Row {
  inputId: string;
  method: string;
  paramValue: number;
  params: string;
  sigma1: number;
  sensitivity: number;
  ssm: number;
  pfAuc: number;
  entropy: number;
  predicted: number;
  spectra: string | null;
}

function rowsOf(dir: string): Row[] {
  const db = new Database(join(dir, 'results.sqlite'), { readonly: true });
  const rows = db.prepare('SELECT * FROM results').all() as Row[];
  db.close();
  return rows;
}

function analyzeJson(args: string[], image = 'chelsea.jpg') {
  const r = xspectra([
    'analyze',
    '--model',
    MODEL,
    '--input',
    `${IMAGES}/${image}`,
    '--preprocess',
    'imagenet',
    '--json',
    ...args,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const reproduceArgs = (out: string, n: number, ...more: string[]) => [
  'reproduce',
  'imagenet',
  '--quick',
  '--model',
  MODEL,
  '--images',
  IMAGES,
  '--n',
  String(n),
  '--out',
  out,
  '--no-progress',
  ...more,
];

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('reproduce imagenet', () => {
  it('--quick writes the report, resumes, and agrees with analyze', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'xspectra-imagenet-')), 'report');
    const args = reproduceArgs(out, 3);
    const r = xspectra(args);
    expect(r.code, r.stderr).toBe(0);
    // 4 γ + 2 noise levels + IG, on 3 photos
    expect(r.stdout).toMatch(/computed 21 rows, resumed 0/);
    for (const f of [
      'index.html',
      'report.md',
      'results.csv',
      'photo.png',
      'fig3-ssm-vs-gamma.svg',
      'fig3-pfAuc-vs-noise.svg',
      'fig2-2-lrp.png',
      'fig2-5-ig.png',
      'fig5-remainder.png',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const rows = rowsOf(out);
    expect(new Set(rows.map((x) => x.inputId))).toEqual(
      new Set(['astronaut.jpg', 'chelsea.jpg', 'coffee.jpg']),
    );
    // the same settings through analyze: LRP γ = 0.1, SmoothGrad s = 0.3 (n = 10, seed 0), IG
    const cases: [string, number, string[]][] = [
      ['lrp', 0.1, ['--method', 'lrp', '--composite', 'vgg16-paper', '--gamma', '0.1']],
      ['sg', 0.3, ['--method', 'sg', '--noise', '0.3', '--samples', '10', '--seed', '0']],
      ['ig', 0, ['--method', 'ig', '--steps', '10']],
    ];
    for (const [method, value, a] of cases) {
      const row = rows.find(
        (x) => x.inputId === 'chelsea.jpg' && x.method === method && x.paramValue === value,
      )!;
      expect(row.spectra, method).toBeNull();
      const ref = analyzeJson(a);
      expect(row.predicted).toBe(ref.predicted);
      expect(rel(row.sigma1, ref.scores.sigma1), method).toBeLessThan(1e-6);
      expect(rel(row.sensitivity, ref.scores.sensitivity), method).toBeLessThan(1e-6);
      expect(rel(row.ssm, ref.scores.ssm), method).toBeLessThan(1e-6);
    }
    // Table 1: the SSM-optimal γ and its mean are those of the stored rows
    const lrp = rows.filter((x) => x.method === 'lrp');
    const means = new Map<number, number[]>();
    for (const x of lrp) means.set(x.paramValue, [...(means.get(x.paramValue) ?? []), x.ssm]);
    const [bestG, ssms] = [...means].reduce((p, q) => (mean(q[1]) > mean(p[1]) ? q : p));
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const line = md.split('\n').find((l) => l.startsWith('| LRP (vgg16-paper) | γ = '))!;
    expect(line).toContain(`γ = ${Number(bestG.toPrecision(4))}`);
    expect(line).toContain(`| ${Number(mean(ssms).toPrecision(4))} ±`);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<img src="fig3-ssm-vs-gamma.svg"');
    const again = xspectra(args);
    expect(again.stdout).toMatch(/computed 0 rows, resumed 21/);
  }, 600_000);

  it('--spectra matrix-free stores certified bounds that hold the exact values of analyze', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'xspectra-imagenet-')), 'mf');
    // 10 outputs: any estimate reaches c/2 passes and forms R; the record says which stage did it
    const r = xspectra(
      reproduceArgs(out, 1, '--spectra', 'matrix-free', '--block', '2', '--mf-start', 'subspace'),
    );
    expect(r.code, r.stderr).toBe(0);
    const row = rowsOf(out).find(
      (x) => x.inputId === 'astronaut.jpg' && x.method === 'lrp' && x.paramValue === 1,
    )!;
    const s = JSON.parse(row.spectra!);
    expect(s.mode).toBe('matrix-free');
    expect([s.stage, s.exact, s.columns]).toEqual(['exact', true, []]);
    expect(JSON.parse(row.params).spectra).toBe('matrix-free');
    const ref = analyzeJson(
      ['--method', 'lrp', '--composite', 'vgg16-paper', '--gamma', '1'],
      'astronaut.jpg',
    );
    expect(s.sigma1Bounds[0]).toBeLessThanOrEqual(ref.scores.sigma1 * (1 + 1e-6));
    expect(s.sigma1Bounds[1]).toBeGreaterThanOrEqual(ref.scores.sigma1 * (1 - 1e-6));
    expect(s.frobeniusBounds[0]).toBeLessThanOrEqual(ref.scores.sensitivity * (1 + 1e-6));
    expect(s.frobeniusBounds[1]).toBeGreaterThanOrEqual(ref.scores.sensitivity * (1 - 1e-6));
    expect(s.backwardSeeds).toBeGreaterThan(0);
  }, 600_000);

  it('rejects a class-name file that does not fit the outputs, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xspectra-classes-'));
    const file = join(dir, 'classes.txt');
    writeFileSync(file, 'cat\ndog\n');
    const r = xspectra([
      'reproduce',
      'imagenet',
      '--model',
      MODEL,
      '--images',
      IMAGES,
      '--classes',
      file,
      '--out',
      join(dir, 'o'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--classes ${file}: 2 names, but the model has 10 outputs`);
  });
});

function mean(v: number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

describe('runImagenet on combined sessions with room for one (as VGG16 at the default budget)', () => {
  it('flips pixels per chunk on a forward session and stores the numbers of separate sessions', async () => {
    const model = loadModelFile(MODEL);
    const photos = readdirSync(IMAGES).filter((n) => /\.(jpe?g|png)$/i.test(n));
    const xs = photos.map((n) => preprocessImage(decodeImage(join(IMAGES, n)), 'imagenet', model.inputShape));
    // ten images: two chunks (PF_CHUNK = 8); the mirrored photos are other inputs
    const inputs = [
      ...xs.map((x, i) => ({ id: photos[i], x })),
      ...xs.map((x, i) => ({ id: `mirrored-${photos[i]}`, x: Float32Array.from(x).reverse() })),
    ];
    expect(inputs.length).toBeGreaterThan(PF_CHUNK);
    const cfg = { ...imagenetConfig(true), gammas: [0.25], noises: [0.1], spectra: 'matrix-free' as const };
    const run = async (runner: ModelRunner) => {
      const dir = mkdtempSync(join(tmpdir(), 'xs-imagenet-chunks-'));
      const store = new ResultStore(join(dir, 'results.sqlite'));
      await runImagenet({ runner, inputs, cfg, store });
      const rows = store
        .rows()
        .sort((a, b) => `${a.method}${a.inputId}`.localeCompare(`${b.method}${b.inputId}`));
      store.close();
      return { rows };
    };
    const probe = new ModelRunner(model, new NodeEngine(), { sessions: 'combined' });
    const budget = minimumBudget(probe.memory) + 4 * rowBytes(probe.memory, 'backward');
    const { engine, created: sessions } = countingEngine();
    const tight = new ModelRunner(model, engine, { sessions: 'combined', memoryBudget: budget });
    expect(tight.maxSessions).toBe(1);
    const a = await run(tight);
    const b = await run(new ModelRunner(model, new NodeEngine(), { sessions: 'separate' }));
    expect(a.rows.length).toBe(3 * inputs.length);
    for (const [i, r] of a.rows.entries()) {
      const q = b.rows[i];
      expect([r.method, r.inputId]).toEqual([q.method, q.inputId]);
      for (const k of ['sigma1', 'sensitivity', 'ssm', 'pfAuc', 'entropy', 'predicted'] as const)
        expect(r[k], `${r.method} ${r.inputId} ${k}`).toBe(q[k]);
    }
    // per setting and chunk: the pass session, then a forward session (3 settings × 2 chunks × 2)
    expect(sessions).toHaveLength(12);
    await probe.release();
  });
});
