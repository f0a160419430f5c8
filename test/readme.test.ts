/**
 * Every `npx xspectra …` example of README.md, run as written (npx xspectra → the built CLI) from
 * a fresh temporary folder. Files a user brings are stood in: `vgg16.onnx` by the VGG-style
 * fixture, `cat.jpg` by a generated JPEG, `digits/` by PNGs of test digits.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { mnistTestDigit } from '../src/data/mnist.js';
import { parseNpy } from '../src/io/npy.js';
import { ROOT, readmeCommands, readmeLines, SERVER_EXAMPLES } from './helpers/readme.js';

const commands = readmeCommands();

function fresh(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xspectra-readme-'));
  copyFileSync(join(ROOT, 'test', 'fixtures', 'models', 'vgg-mini-bn.onnx'), join(dir, 'vgg16.onnx'));
  const [w, h] = [300, 260];
  const rgb = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      rgb[o] = (x * 255) / w;
      rgb[o + 1] = (y * 255) / h;
      rgb[o + 2] = ((x + y) * 97) % 256;
      rgb[o + 3] = 255;
    }
  writeFileSync(join(dir, 'cat.jpg'), jpeg.encode({ data: rgb, width: w, height: h }, 90).data);
  mkdirSync(join(dir, 'digits'));
  for (const n of [0, 1, 2]) {
    const png = new PNG({ width: 28, height: 28 });
    const { x } = mnistTestDigit(n);
    for (let p = 0; p < 784; p++) {
      png.data.fill(Math.round(x[p] * 255), p * 4, p * 4 + 3);
      png.data[p * 4 + 3] = 255;
    }
    writeFileSync(join(dir, 'digits', `digit-${n}.png`), PNG.sync.write(png));
  }
  return dir;
}

function run(line: string, cwd: string) {
  const args = line
    .replace(/^npx xspectra /, '')
    .match(/"[^"]*"|\S+/g)!
    .map((a) => a.replace(/^"|"$/g, ''));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'xspectra.js'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('README examples', () => {
  it('lists the examples; those that need a server are covered by their own tests', () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const line of readmeLines().filter((l) => !commands.includes(l))) {
      const s = SERVER_EXAMPLES.find((x) => x.pattern.test(line))!;
      const body = readFileSync(join(ROOT, s.test), 'utf8');
      // the covering test runs the same subcommand
      const sub = line.split(/\s+/)[2];
      expect(body, `${line} → ${s.test}`).toMatch(new RegExp(`['"]${sub}['"]`));
    }
    // examples 3 and 4 (and any two sweeps) must not share a store
    const dbs = commands.map((c) => c.match(/--db (\S+)/)?.[1]).filter(Boolean);
    expect(new Set(dbs).size).toBe(dbs.length);
  });

  it.each(commands)(
    '%s',
    (line) => {
      const dir = fresh();
      const r = run(line, dir);
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
      expect(r.stderr, line).not.toMatch(/warning:/);
      // the files the example names exist
      for (const flag of ['--out', '--save-matrix', '--csv', '--db', '--per-group']) {
        const f = line.match(new RegExp(`${flag} (\\S+)`))?.[1];
        if (f) expect(existsSync(join(dir, f)), `${flag} ${f}`).toBe(true);
      }
      if (line.includes('--save-matrix out/sg/R.npy'))
        expect(parseNpy(readFileSync(join(dir, 'out/sg/R.npy'))).shape).toEqual([784, 10]);
      const db = line.match(/--db (\S+)/)?.[1];
      if (db) {
        // one row per grid point and input: 7 γ × 10 digits, 4 noise levels × 3 PNGs
        const store = new Database(join(dir, db), { readonly: true });
        const n = (store.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n;
        store.close();
        expect(n).toBe(line.includes('--method lrp') ? 70 : 12);
      }
      if (line.startsWith('npx xspectra bound')) expect(r.stdout).toMatch(/flag "used map exceeds bound": /);
    },
    300_000,
  );
});
