/** Resolving `--input` values: mnist:N, mnist:test[:N], .npy files, PNG/JPEG images. */

import { idxImagesToInputs } from '../data/idx.js';
import { readIdxFile } from '../data/idx-file.js';
import { mnistSplit, mnistTestDigit } from '../data/mnist.js';
import { readNpyFile } from '../io/files.js';
import { decodeImage, preprocessImage } from '../io/images.js';
import { asFloat32 } from '../io/npy.js';
import { size } from '../model/ir.js';
import { warnInverted } from './warnings.js';

export interface NamedInput {
  id: string;
  x: Float32Array;
  label?: number;
}

/**
 * The inputs named by --input, with warnings for inverted digits (cli/warnings.ts).
 * `budget`: memory budget in bytes; images whose header promises more are refused before decoding.
 */
export function resolveInputs(
  spec: string,
  shape: number[],
  presetName: string,
  budget?: number,
): NamedInput[] {
  const inputs = resolveRaw(spec, shape, presetName, budget);
  warnInverted(inputs, shape, presetName);
  return inputs;
}

function resolveRaw(spec: string, shape: number[], presetName: string, budget?: number): NamedInput[] {
  const n = size(shape);
  let m = /^mnist:(\d+)$/.exec(spec);
  if (m) {
    const d = mnistTestDigit(Number(m[1]));
    checkShape(spec, d.x.length, n, shape);
    return [{ id: spec, x: d.x, label: d.label }];
  }
  m = /^mnist:test(?::(\d+))?(?::(\d+))?$/.exec(spec);
  if (m) {
    const { test } = mnistSplit();
    const [from, to] =
      m[2] !== undefined ? [Number(m[1]), Number(m[2])] : [0, m[1] !== undefined ? Number(m[1]) : test.n];
    checkShape(spec, 784, n, shape);
    const out: NamedInput[] = [];
    for (let i = from; i < Math.min(to, test.n); i++) {
      out.push({ id: `mnist:${i}`, x: test.images.slice(i * 784, (i + 1) * 784), label: test.labels[i] });
    }
    return out;
  }
  if (spec.toLowerCase().endsWith('.npy')) {
    const a = asFloat32(readNpyFile(spec), spec);
    const total = a.data.length;
    if (total % n !== 0 || (a.shape.length !== shape.length && a.shape.length !== shape.length + 1)) {
      throw new Error(
        `${spec}: shape [${a.shape}] does not fit the model input [${shape}] (or [N,${shape}])`,
      );
    }
    if (a.shape.slice(-shape.length).join(',') !== shape.join(',')) {
      throw new Error(
        `${spec}: shape [${a.shape}] does not fit the model input [${shape}] (or [N,${shape}])`,
      );
    }
    const count = total / n;
    const out: NamedInput[] = [];
    for (let i = 0; i < count; i++) {
      const x = a.data.slice(i * n, (i + 1) * n);
      const bad = x.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`${spec}: input ${i} contains ${x[bad]} at flat index ${bad}`);
      out.push({ id: count === 1 ? spec : `${spec}[${i}]`, x });
    }
    return out;
  }
  m = /^(.*(?:idx3-ubyte|\.idx)(?:\.gz)?)(?::(\d+)(?::(\d+))?)?$/i.exec(spec);
  if (m) {
    const imgs = readIdxFile(m[1]);
    const x = idxImagesToInputs(imgs, m[1]);
    const per = imgs.shape[1] * imgs.shape[2];
    checkShape(spec, per, n, shape);
    const [from, to] =
      m[3] !== undefined
        ? [Number(m[2]), Number(m[3])]
        : m[2] !== undefined
          ? [Number(m[2]), Number(m[2]) + 1]
          : [0, imgs.shape[0]];
    const out: NamedInput[] = [];
    for (let i = from; i < Math.min(to, imgs.shape[0]); i++)
      out.push({ id: `${m[1]}:${i}`, x: x.slice(i * per, (i + 1) * per) });
    if (out.length === 0) throw new Error(`${spec}: no images in that range (the file has ${imgs.shape[0]})`);
    return out;
  }
  if (/\.(png|jpe?g)$/i.test(spec)) {
    if (shape.length !== 3)
      throw new Error(`${spec}: images need a model with a C×H×W input, not [${shape}]`);
    return [{ id: spec, x: preprocessImage(decodeImage(spec, budget), presetName, shape) }];
  }
  throw new Error(
    `--input ${spec}: expected mnist:N, mnist:test[:N], a .npy file, an IDX file (FILE-idx3-ubyte[.gz][:N[:M]]) or a PNG/JPEG image`,
  );
}

function checkShape(spec: string, got: number, want: number, shape: number[]) {
  if (got !== want) throw new Error(`${spec}: images of ${got} pixels do not fit the model input [${shape}]`);
}
