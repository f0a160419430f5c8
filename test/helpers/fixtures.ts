/** Access to the reference fixtures copied into test/fixtures (from ../shared/fixtures). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpy } from '../../src/io/npy.js';
import { loadModelFile } from '../../src/model/load-file.js';
import type { Engine } from '../../src/runtime/engine.js';
import { NodeEngine } from '../../src/runtime/node.js';
import { ModelRunner } from '../../src/runtime/runner.js';
import { type Provider, WEBGPU_HINT } from './providers.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

// biome-ignore lint/suspicious/noExplicitAny: the manifest is untyped JSON
export type Json = any;

export function manifest(): Json {
  const p = join(FIXTURES, 'manifest.json');
  if (!existsSync(p)) throw new Error(`fixture manifest missing at ${p}`);
  return JSON.parse(readFileSync(p, 'utf8'), (_k, v) =>
    v === 'Infinity'
      ? Number.POSITIVE_INFINITY
      : v === '-Infinity'
        ? Number.NEGATIVE_INFINITY
        : v === 'NaN'
          ? Number.NaN
          : v,
  );
}

export function npy(rel: string) {
  const p = join(FIXTURES, rel);
  if (!existsSync(p)) throw new Error(`fixture file missing: ${p}`);
  return parseNpy(readFileSync(p), rel);
}

/** An engine for the provider; on WebGPU a session that cannot be created says how to get a GPU. */
export function testEngine(provider: Provider = 'cpu'): Engine {
  const e = new NodeEngine({ provider });
  if (provider === 'cpu') return e;
  return {
    provider,
    createSession: (bytes) =>
      e.createSession(bytes).catch((err: Error) => {
        throw new Error(`${err.message}\n${WEBGPU_HINT}`);
      }),
  };
}

/** A CPU engine that records each session it creates (`created`: one entry per creation) */
export function countingEngine(): { engine: NodeEngine; created: number[] } {
  const engine = new NodeEngine();
  const created: number[] = [];
  const create = engine.createSession.bind(engine);
  engine.createSession = (graph) => {
    created.push(created.length);
    return create(graph);
  };
  return { engine, created };
}

export function runnerFor(model: string, provider: Provider = 'cpu'): ModelRunner {
  return new ModelRunner(loadModelFile(join(FIXTURES, 'models', `${model}.onnx`)), testEngine(provider));
}

export function inputs(model: string): { x: Float32Array; n: number; d: number } {
  const a = npy(`inputs/${model}.x.npy`);
  const n = a.shape[0];
  return { x: a.data as Float32Array, n, d: (a.data as Float32Array).length / n };
}

/** max_i |a_i − b_i| / max_i |b_i| */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let mx = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mx = Math.max(mx, Math.abs(b[i]));
  }
  return err / mx;
}

/** max over classes of max_i |a − b| / max_i |b| for column-major-by-class (i*c + k) arrays */
export function colwiseRelErr(test: ArrayLike<number>, ref: ArrayLike<number>, d: number, c: number): number {
  let worst = 0;
  for (let k = 0; k < c; k++) {
    let mx = 0;
    let err = 0;
    for (let i = 0; i < d; i++) {
      mx = Math.max(mx, Math.abs(ref[i * c + k]));
      err = Math.max(err, Math.abs(test[i * c + k] - ref[i * c + k]));
    }
    if (mx > 0) worst = Math.max(worst, err / mx);
    else worst = Math.max(worst, err);
  }
  return worst;
}

export const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
