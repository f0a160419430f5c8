/**
 * One JSON family across commands (the `model` object, method-only options), warnings for
 * inputs that run but mislead, `train mnist` never overwriting the shipped model by default.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mnistTestDigit } from '../src/data/mnist.js';
import { encodeNpy } from '../src/io/npy.js';
import { xspectra } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'xspectra-consistency-'));

describe('JSON schema family', () => {
  it('analyze --json, analysis.json, evaluate, attribute and bound carry the same model object', () => {
    const out = join(dir, 'sg');
    const a = xspectra(['analyze', '--method', 'sg', '--samples', '4', '--out', out, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const doc = JSON.parse(a.stdout);
    const file = JSON.parse(readFileSync(join(out, 'analysis.json'), 'utf8'));
    expect(Object.keys(doc.model).sort()).toEqual(['hash', 'notes', 'path']);
    expect(file.model).toEqual(doc.model);
    expect(file.options).toEqual(doc.options);
    expect(file.scores).toEqual(doc.scores);
    // max |UᵀU − I| and |VᵀV − I| of the singular vectors: tiny for a float64 SVD
    expect(file.diagnostics.orthogonality.u).toBeLessThan(1e-6);
    expect(file.diagnostics.orthogonality.v).toBeLessThan(1e-6);
    // an SG run records SG's settings and none of LRP's, IG's or Shapley's
    expect(doc.options).toMatchObject({ method: 'sg', noise: 0.1, samples: 4, timesInput: true, seed: 0 });
    for (const k of ['composite', 'gamma', 'low', 'high', 'steps', 'rule', 'baseline', 'patch'])
      expect(doc.options, k).not.toHaveProperty(k);
    const ev = xspectra(['evaluate', '--method', 'gi', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    const evDoc = JSON.parse(ev.stdout);
    expect(evDoc.model).toEqual(doc.model);
    expect(evDoc.source.options).toEqual({ method: 'gi', preprocess: 'mnist', seed: 0 });
    const at = xspectra([
      'attribute',
      '--input',
      'mnist:0',
      '--method',
      'lrp',
      '--out',
      join(dir, 'a.npy'),
      '--json',
    ]);
    expect(at.code, at.stderr).toBe(0);
    expect(JSON.parse(at.stdout).model).toEqual(doc.model);
    expect(JSON.parse(at.stdout).convention).toBe('f_k');
    const bd = xspectra(['bound', '--json']);
    const bdDoc = JSON.parse(bd.stdout);
    expect(bdDoc.model).toEqual(doc.model);
    expect(bdDoc.legend['used map exceeds bound']).toMatch(/bias/);
  }, 120_000);
});

describe('warnings and safe defaults', () => {
  it('warns for --preprocess imagenet on a 1-channel model and for an inverted digit', () => {
    const r = xspectra(['analyze', '--method', 'gradient', '--preprocess', 'imagenet', '--components', '0']);
    expect(r.stderr).toMatch(
      /warning: --preprocess imagenet is made for 3-channel inputs, the model takes \[1,28,28\]/,
    );
    const { x } = mnistTestDigit(0);
    const inv = join(dir, 'inverted.npy');
    writeFileSync(inv, encodeNpy({ shape: [1, 1, 28, 28], data: x.map((v) => 1 - v) }));
    const i = xspectra(['analyze', '--method', 'gradient', '--input', inv, '--components', '0']);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stderr).toMatch(/warning: .*inverted\.npy looks inverted/);
    const ok = xspectra(['analyze', '--method', 'gradient', '--components', '0']);
    expect(ok.stderr).not.toMatch(/warning/);
  }, 120_000);

  it('train mnist refuses to overwrite the shipped model without --overwrite-shipped', () => {
    const r = xspectra(['train', 'mnist', '--iterations', '1', '--out', 'models/mnist-cnn.onnx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--out models\/mnist-cnn\.onnx is the shipped model: pass --overwrite-shipped/);
    const help = xspectra(['train', '--help']);
    expect(help.stdout).toMatch(/default: "mnist-cnn-trained\.onnx"/);
    expect(help.stdout).toMatch(/--overwrite-shipped/);
  });

  it('bound explains its flags in --help', () => {
    const help = xspectra(['bound', '--help']);
    expect(help.stdout).toMatch(/flag "used map exceeds bound": used norm > bound: allowed, not an error/);
  });
});
