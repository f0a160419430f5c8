/**
 * Inputs and outputs of the CLI beyond NPY: PNG/JPEG decoding with the presets (checked against
 * the fixture's own uint8 → model-input conversion), IDX files, and a named intermediate tensor
 * as the output layer (R with more columns than rows).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { resolveInputs } from '../src/cli/inputs.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs, npy } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'xspectra-inputs-'));

function png(path: string, w: number, h: number, rgb: (i: number, c: number) => number) {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) p.data[i * 4 + c] = rgb(i, c);
    p.data[i * 4 + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(p));
}

describe('image inputs', () => {
  it('a 32×32 RGB PNG with --preprocess imagenet equals the fixture tensor of the same pixels', () => {
    const u8 = npy('inputs/vgg-mini-bn.u8_hwc.npy').data as Uint8Array;
    const { x, d } = inputs('vgg-mini-bn');
    const file = join(tmp, 'astronaut.png');
    png(file, 32, 32, (i, c) => u8[i * 3 + c]);
    const [inp] = resolveInputs(file, [3, 32, 32], 'imagenet');
    let err = 0;
    for (let i = 0; i < d; i++) err = Math.max(err, Math.abs(inp.x[i] - x[i]));
    expect(err).toBeLessThan(1e-6);
  });
  it('a grey 28×28 JPEG with --preprocess mnist maps to [0, 1]', () => {
    const w = 28;
    const data = Buffer.alloc(w * w * 4);
    for (let i = 0; i < w * w; i++) {
      const v = (i % 28) * 9;
      data.set([v, v, v, 255], i * 4);
    }
    const file = join(tmp, 'ramp.jpg');
    writeFileSync(file, jpeg.encode({ data, width: w, height: w }, 100).data);
    const [inp] = resolveInputs(file, [1, 28, 28], 'mnist');
    for (let i = 0; i < 28; i++) expect(Math.abs(inp.x[i] - (i * 9) / 255)).toBeLessThan(3 / 255);
  });
  it('an ImageNet-size photo is resized and centre-cropped to 224×224', () => {
    const file = join(tmp, 'wide.png');
    png(file, 300, 260, (i, c) => (c === 0 ? (i % 300 < 150 ? 0 : 255) : 128));
    const [inp] = resolveInputs(file, [3, 224, 224], 'imagenet');
    expect(inp.x.length).toBe(3 * 224 * 224);
    const red = (y: number, xx: number) => inp.x[y * 224 + xx] * 0.229 + 0.485;
    expect(red(100, 5)).toBeCloseTo(0, 2);
    expect(red(100, 218)).toBeCloseTo(1, 2);
  });
});

describe('IDX inputs', () => {
  it('reads Fashion-MNIST images by index range', () => {
    const file = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
    const xs = resolveInputs(`${file}:5:8`, [1, 28, 28], 'mnist');
    expect(xs.map((i) => i.id)).toEqual([`${file}:5`, `${file}:6`, `${file}:7`]);
    expect(Math.max(...xs[0].x)).toBeLessThanOrEqual(1);
    expect(() => resolveInputs(`${file}:0`, [3, 32, 32], 'none')).toThrow(/do not fit/);
  });
});

describe('output layer', () => {
  it('R of the flattened features (3136 columns, more than the 784 rows) has a consistent spectrum', () => {
    const r = xspectra([
      'analyze',
      '--model',
      join(FIXTURES, 'models', 'mnist-cnn.onnx'),
      '--input',
      'mnist:0',
      '--method',
      'lrp',
      '--output-layer',
      '/flatten/Flatten_output_0',
      '--inactive',
      'keep',
      '--components',
      '0',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.options.outputLayer).toBe('/flatten/Flatten_output_0');
    expect(j.columns.length).toBe(3136);
    expect(j.singularValues.length).toBeLessThanOrEqual(784);
    const fro = Math.sqrt(j.singularValues.reduce((a: number, s: number) => a + s * s, 0));
    expect(Math.abs(fro - j.scores.sensitivity) / fro).toBeLessThan(1e-9);
    expect(j.scores.ssm).toBeGreaterThanOrEqual(1);
  });
  it('an unknown tensor name is an error that lists the tensors', () => {
    const r = xspectra([
      'analyze',
      '--model',
      join(FIXTURES, 'models', 'mnist-cnn.onnx'),
      '--output-layer',
      'nope',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/output layer "nope" is not a tensor of this model \(tensors: /);
  });
});
