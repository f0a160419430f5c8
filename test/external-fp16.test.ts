/**
 * External-data ONNX files (the data file next to the model, `location` relative to the model's
 * directory, as ONNX Runtime resolves it; or bytes plus a base directory) and float16 models
 * (weights read as float32, a note in model.notes), on the torchvision DenseNet fixture whose
 * weights are float16-representable: all three files must compute the opset 17 export's function.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/api/node.js';
import { ModelError } from '../src/model/ir.js';
import { loadModelFile, loadModelFileChecked } from '../src/model/load-file.js';
import { onnx } from '../src/model/onnx-proto.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { FIXTURES, npy } from './helpers/fixtures.js';

const DIR = join(FIXTURES, 'torchvision');
const EXT = join(DIR, 'densenet-external.onnx');
const x = () => npy('torchvision/densenet.x.npy').data as Float32Array;

async function logits(model: ReturnType<typeof loadModelFile>) {
  const r = new ModelRunner(model, new NodeEngine());
  const y = await r.forward(x(), 1);
  await r.release();
  return Array.from(y);
}

describe('external data', () => {
  it('from the file path, and from bytes with its directory: the same logits as the single-file export', async () => {
    const ref = await logits(loadModelFile(join(DIR, 'densenet-opset17.onnx')));
    expect(await logits(await loadModelFileChecked(EXT))).toEqual(ref);
    expect(await logits(loadModel(readFileSync(EXT), { baseDir: DIR }))).toEqual(ref);
  });
  it('bytes without a directory: an error naming the tensor and the data file', () => {
    expect(() => loadModel(readFileSync(EXT))).toThrow(
      /tensor "features\.conv0\.weight".*external data \("densenet-external\.onnx\.data"\).*pass the directory/,
    );
  });
  it('a missing or short data file, or a location outside the directory, is refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xs-ext-'));
    copyFileSync(EXT, join(dir, 'm.onnx'));
    expect(() => loadModelFile(join(dir, 'm.onnx'))).toThrow(
      /cannot read external data "densenet-external\.onnx\.data"/,
    );
    const data = readFileSync(join(DIR, 'densenet-external.onnx.data'));
    writeFileSync(join(dir, 'densenet-external.onnx.data'), data.subarray(0, data.length - 100));
    expect(() => loadModelFile(join(dir, 'm.onnx'))).toThrow(/outside its \d+ bytes/);
    const proto = onnx.ModelProto.decode(readFileSync(EXT));
    for (const e of proto.graph!.initializer![0].externalData!)
      if (e.key === 'location') e.value = '../x.data';
    writeFileSync(join(dir, 'escape.onnx'), onnx.ModelProto.encode(proto).finish());
    expect(() => loadModelFile(join(dir, 'escape.onnx'))).toThrow(ModelError);
    expect(() => loadModelFile(join(dir, 'escape.onnx'))).toThrow(
      /"\.\.\/x\.data" must be relative to the model's directory/,
    );
  });
  it("the data file is part of the model's identity (hash)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'xs-ext-'));
    copyFileSync(EXT, join(dir, 'densenet-external.onnx'));
    const data = Buffer.from(readFileSync(join(DIR, 'densenet-external.onnx.data')));
    data[data.length - 1] ^= 1;
    writeFileSync(join(dir, 'densenet-external.onnx.data'), data);
    expect(loadModelFile(join(dir, 'densenet-external.onnx')).hash).not.toBe(loadModelFile(EXT).hash);
  });
});

describe('float16 models', () => {
  it('load with float32 weights equal to the float32 export, a note, and pass ONNX Runtime', async () => {
    const half = await loadModelFileChecked(join(DIR, 'densenet-fp16.onnx'));
    expect(half.notes.join('\n')).toMatch(/float16 model: weights converted to float32, computed in float32/);
    const full = loadModelFile(join(DIR, 'densenet-opset17.onnx'));
    expect(full.notes.join('\n')).not.toMatch(/float16/);
    expect(await logits(half)).toEqual(await logits(full));
  });
});
