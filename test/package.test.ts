/**
 * The package as a user gets it: `npm pack`, the tarball unpacked into a fresh project's
 * node_modules (its dependencies linked from this repository's node_modules, so no network is
 * needed), then the README's library examples run there, importing `xspectra` by name.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze, createMethod, createRunner, loadModel, mnistTestDigit } from '../src/index.js';
import { ROOT, readmeExample } from './helpers/readme.js';

let dir = '';
let proj = '';

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npm run build');
  dir = mkdtempSync(join(tmpdir(), 'xspectra-pack-'));
  const packed = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT),
  );
  const tgz = join(dir, packed[0].filename);
  proj = join(dir, 'consumer');
  const pkgDir = join(proj, 'node_modules', 'xspectra');
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(
    join(proj, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  run('tar', ['-xzf', tgz, '--strip-components=1', '-C', pkgDir], dir);
  const deps = Object.keys(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).dependencies);
  for (const dep of deps) {
    const target = join(proj, 'node_modules', dep);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), target, 'dir');
  }
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the library, its types, the CLI and the shipped model, and no sources or tests', () => {
    const pkgDir = join(proj, 'node_modules', 'xspectra');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'bin/xspectra.js', 'models/mnist-cnn.onnx'])
      expect(existsSync(join(pkgDir, f)), f).toBe(true);
    expect(readdirSync(pkgDir).sort()).not.toContain('test');
    expect(readdirSync(pkgDir).sort()).not.toContain('src');
  });

  it('runs the README examples by package name and computes the SSM of test digit 0', async () => {
    const runner = createRunner(loadModel());
    const a = await analyze(
      createMethod(runner, { method: 'lrp', composite: 'gamma-all', gamma: 0.25 }),
      mnistTestDigit(0).x,
    );
    await runner.release();

    writeFileSync(join(proj, 'example-ssm.mjs'), readmeExample('ssm'));
    const out = run(process.execPath, ['example-ssm.mjs'], proj);
    const m = out.match(/R (\d+)×(\d+), sigma1 ([\d.]+), SSM ([\d.]+)/);
    expect(m, out).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([784, 10]);
    expect(Number(m![3])).toBeCloseTo(a.scores.sigma1, 4);
    expect(Number(m![4])).toBeCloseTo(a.scores.ssm, 4);

    const line = readmeExample('one-liner').trim();
    const code = line.match(/^node -e "(.*)"$/)?.[1];
    expect(code, line).toBeDefined();
    const one = run(process.execPath, ['-e', code!], proj);
    expect(Number(one.match(/SSM ([\d.e-]+)/)![1])).toBeCloseTo(a.scores.ssm, 10);

    writeFileSync(join(proj, 'example-ig.mjs'), readmeExample('ig'));
    const ig = run(process.execPath, ['example-ig.mjs'], proj);
    const n = ig.match(/sum (-?[\d.]+) = f7\(x\) - f7\(baseline\) (-?[\d.]+) \+ gap (-?[\d.]+)/);
    expect(n, ig).not.toBeNull();
    expect(Math.abs(Number(n![1]) - Number(n![2]) - Number(n![3]))).toBeLessThan(2e-4);
  }, 120_000);
});
