/**
 * The CLI end to end: attribute writes (c, C, H, W) arrays equal to the library's; bad input
 * (corrupt or unsupported ONNX, wrong shapes, NaN) gives a one-line error naming the culprit,
 * a non-zero exit code and no output file.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/io/npy.js';
import { GraphBuilder } from '../src/propagate/builder.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES, inputs, npy } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'xspectra-cli-'));
const MNIST = join(FIXTURES, 'models', 'mnist-cnn.onnx');

function writeInput(name: string, shape: number[], data: Float32Array): string {
  const p = join(tmp, name);
  writeFileSync(p, encodeNpy({ shape, data }));
  return p;
}

function expectCleanFailure(r: { code: number; stderr: string }, pattern: RegExp, out: string) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(pattern);
  expect(existsSync(out)).toBe(false);
}

describe('xspectra attribute', () => {
  const { x, d } = inputs('mnist-cnn');
  const xin = writeInput('x0.npy', [1, 1, 28, 28], x.slice(0, d));
  it('writes the LRP attributions of all classes, equal to the fixture R (gamma-all, γ = 0.25)', () => {
    const out = join(tmp, 'a.npy');
    const r = xspectra([
      'attribute',
      '--model',
      MNIST,
      '--input',
      xin,
      '--method',
      'lrp',
      '--composite',
      'gamma-all',
      '--gamma',
      '0.25',
      '--out',
      out,
      '--normalized',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.shape).toEqual([10, 1, 28, 28]);
    expect(summary.convention).toBe('E_k/f_k');
    const a = parseNpy(readFileSync(out));
    expect(a.shape).toEqual([10, 1, 28, 28]);
    const ref = npy('R/mnist-cnn/lrp_gamma-all_gamma0.25.R.npy').data as Float32Array;
    let err = 0;
    let mx = 0;
    for (let k = 0; k < 10; k++)
      for (let i = 0; i < d; i++) {
        // --normalized writes R's columns, 0 for inactive outputs (f_k ≤ 0)
        const want = summary.outputs[k] > 0 ? ref[i * 10 + k] : 0;
        err = Math.max(err, Math.abs((a.data as Float32Array)[k * d + i] - want));
        mx = Math.max(mx, Math.abs(ref[i * 10 + k]));
      }
    expect(err / mx).toBeLessThan(1e-4);
  });
  it('prints the rule of every layer', () => {
    const r = xspectra([
      'rules',
      '--model',
      join(FIXTURES, 'models', 'vgg-mini-bn.onnx'),
      '--composite',
      'vgg16-paper',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const rules = j.layers
      .filter((l: { op: string }) => /conv|linear/.test(l.op))
      .map((l: { rule: string }) => l.rule.split('(')[0]);
    expect(rules).toEqual(['zbox', 'gamma', 'gamma', 'gamma', 'gamma', 'gamma', 'epsilon']);
    expect(j.notes.filter((n: string) => n.includes('folded BatchNormalization')).length).toBe(6);
  });
});

describe('bad input', () => {
  const { x, d } = inputs('mnist-cnn');
  const good = writeInput('good.npy', [1, 28, 28], x.slice(0, d));
  it('a truncated ONNX file', () => {
    const bad = join(tmp, 'truncated.onnx');
    writeFileSync(bad, readFileSync(MNIST).subarray(0, 5000));
    const out = join(tmp, 'o1.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', bad, '--input', good, '--out', out]),
      /truncated\.onnx.*not a valid ONNX/,
      out,
    );
  });
  it('a file that is not ONNX at all', () => {
    const bad = join(tmp, 'text.onnx');
    writeFileSync(bad, 'hello world, not a model');
    const out = join(tmp, 'o2.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', bad, '--input', good, '--out', out]),
      /text\.onnx/,
      out,
    );
  });
  it('an unsupported op names the op, the node and the supported ops', () => {
    const g = new GraphBuilder();
    const xi = g.input({ name: 'x', dims: ['N', 1, 28, 28] });
    g.op('Sin', [xi], {}, 'y');
    g.output('y', { dims: ['N', 1, 28, 28] });
    const bad = join(tmp, 'sin.onnx');
    writeFileSync(bad, g.build());
    const out = join(tmp, 'o3.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', bad, '--input', good, '--out', out]),
      /unsupported op Sin at node "n_Sin.*Supported: Conv/,
      out,
    );
  });
  it('an input of the wrong shape', () => {
    const wrong = writeInput('wrong.npy', [1, 3, 28, 28], new Float32Array(3 * 784));
    const out = join(tmp, 'o4.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', MNIST, '--input', wrong, '--out', out]),
      /wrong\.npy: shape \[1,3,28,28\] does not fit .*\[1,28,28\]/,
      out,
    );
  });
  it('NaN in the input', () => {
    const v = x.slice(0, d);
    v[100] = Number.NaN;
    const nan = writeInput('nan.npy', [1, 1, 28, 28], v);
    const out = join(tmp, 'o5.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', MNIST, '--input', nan, '--out', out]),
      /nan\.npy: input 0 contains NaN at flat index 100/,
      out,
    );
  });
  it('an unreadable image', () => {
    const img = join(tmp, 'broken.png');
    writeFileSync(img, 'not a png');
    const out = join(tmp, 'o6.npy');
    expectCleanFailure(
      xspectra(['attribute', '--model', MNIST, '--input', img, '--out', out]),
      /broken\.png/,
      out,
    );
  });
});
