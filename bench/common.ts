/** Timing helpers for the benchmarks: medians of repeated runs, printed as ratios to a baseline. */
import { NodeEngine } from '../src/runtime/node.js';
export async function median(runs: number, f: () => Promise<unknown>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

export function report(name: string, ms: number, baselineMs: number, baselineName: string): void {
  const s = ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(2)} ms`;
  process.stdout.write(
    `${name.padEnd(48)} ${s.padStart(11)}   ${(ms / baselineMs).toFixed(1).padStart(8)} × ${baselineName}\n`,
  );
}

export function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** `--provider cpu|webgpu` (default cpu): the ONNX Runtime execution provider of the benchmark. */
export function providerArg(): 'cpu' | 'webgpu' {
  const i = process.argv.indexOf('--provider');
  const p = i >= 0 ? process.argv[i + 1] : 'cpu';
  if (p !== 'cpu' && p !== 'webgpu') throw new Error(`--provider: "${p}" is not cpu or webgpu`);
  return p;
}

export function engineFromArgs(): NodeEngine {
  return new NodeEngine({ provider: providerArg() });
}

export const skipVgg = (): boolean => !!arg('skip-vgg', 0);
