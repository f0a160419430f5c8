/**
 * Benchmark: VGG16 (torchvision layout, random He-normal weights, saved as an ONNX file and
 * loaded like a user's export) on a real photo: exact R vs the adaptive matrix-free estimate —
 * wall time, passes, errors, peak RSS — for LRP (vgg16-paper), SmoothGrad×Input and IG, and the
 * per-image cost of the whole `reproduce imagenet` protocol. Every case runs in its own child
 * process, so its peak RSS (VmHWM) is its own. Each case is timed twice: cold (the process's first
 * analysis: compiling the graph and creating its session included) and warm (the same analysis
 * again on the live session, as every image after a setting's first in `reproduce imagenet`).
 *
 * Run: npx tsx bench/imagenet.ts [--exact lrp,gradient] [--cases lrp,sg,ig] [--memory-budget GiB]
 *      [--features pixels|elements]   (elements: R is 1.2 GB and goes to disk at the default budget)
 *      [--starts columns,subspace]    (the matrix-free start(s) to time; default: columns)
 *      [--repeats 3]                  (fresh processes per matrix-free case: its cold and warm
 *                                      times are their medians; seconds on a shared machine vary
 *                                      by ±5-30 % between runs, the exact R's 126 runs average it)
 * The exact R of SmoothGrad / IG is n = m = 10 gradient rows per output (≈ 25 min on 2 cores):
 * pass e.g. `--exact lrp,sg` to run it; otherwise its time is extrapolated from the measured cost
 * per exact gradient row (`--exact gradient`, in the default list) and said so. (An earlier
 * version extrapolated from LRP's rows, which cost twice a gradient row: that overstated the
 * speed-up by ≈ 1.8×, found when the exact SmoothGrad R was measured: 1,477 s.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PF_CHUNK } from '../src/experiments/reproduce-imagenet.js';
import { decodeImage, preprocessImage } from '../src/io/images.js';
import { spillToFile } from '../src/io/r-file.js';
import { createMethod, type MethodSpec } from '../src/methods/factory.js';
import { PRESETS } from '../src/methods/presets.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { channelSum } from '../src/metrics/entropy.js';
import { pixelFlipping } from '../src/metrics/pixel-flipping.js';
import { loadModelFile } from '../src/model/load-file.js';
import { compileForward } from '../src/propagate/compile.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { estimateSpectrum, type MatrixFreeStart } from '../src/spectral/matrix-free.js';
import { setDefaultSpill } from '../src/spectral/r-store.js';
import { randomVgg16 } from './vgg16.js';

const ROOT = join(import.meta.dirname, '..');
const MODEL = join(ROOT, 'scratch', 'vgg16-random.onnx');
const PHOTO = join(ROOT, 'test', 'fixtures', 'images', 'chelsea.jpg');
const SPECS: Record<string, MethodSpec> = {
  lrp: { method: 'lrp', composite: 'vgg16-paper', gamma: 0.25, preprocess: 'imagenet' },
  gradient: { method: 'gradient' },
  sg: { method: 'sg', noise: 0.1, samples: 10, seed: 0, preprocess: 'imagenet' },
  ig: { method: 'ig', steps: 10, baseline: 'black', preprocess: 'imagenet' },
};

const argOf = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

function peakRssGb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 ** 2 : Number.NaN;
}

interface CaseResult {
  method: string;
  /** 'exact' or 'mf/<start>' */
  mode: string;
  /** cold: the first analysis in a fresh process (compiling and creating the session included) */
  seconds: number;
  /** every repeat's cold and warm seconds, when the case ran in several processes (--repeats) */
  repeats?: { seconds: number[]; warmSeconds: number[] };
  /**
   * warm: the same analysis again with the session live — what every image after the first costs
   * in `reproduce imagenet`, which runs a setting's images on one session
   */
  warmSeconds: number;
  sigma1: number;
  frobenius: number;
  ssm: number;
  backwardSeeds: number;
  forwardModeTangents: number;
  rows: number;
  peakRssGb: number;
  extra?: Record<string, unknown>;
}

/** One case in this process: `--case method:mode` */
async function runCase(name: string, mode: string): Promise<CaseResult> {
  // as the CLI does: an R that does not fit the budget goes to a temporary file
  setDefaultSpill(spillToFile());
  const budget = Number(argOf('memory-budget', '0'));
  const runner = new ModelRunner(loadModelFile(MODEL), new NodeEngine(), {
    memoryBudget: budget > 0 ? budget * 1024 ** 3 : undefined,
  });
  const x = preprocessImage(decodeImage(PHOTO), 'imagenet', runner.model.inputShape);
  const method = createMethod(runner, SPECS[name]);
  const batch = name === 'sg' || name === 'ig' ? 10 : 1;
  const features = argOf('features', 'pixels') as 'pixels' | 'elements';
  const t0 = performance.now();
  let r: CaseResult;
  if (mode === 'exact') {
    const a = await analyze(method, x, { features, inactive: 'zero' });
    const seconds = (performance.now() - t0) / 1000;
    const storage = a.matrix.store.location === 'memory' ? 'memory' : 'disk';
    a.matrix.store.release();
    const active = a.matrix.c - a.matrix.inactiveOutputs.length;
    const t1 = performance.now();
    const again = await analyze(method, x, { features, inactive: 'zero' });
    const warmSeconds = (performance.now() - t1) / 1000;
    again.matrix.store.release();
    if (Math.abs(again.scores.sigma1 / a.scores.sigma1 - 1) > 1e-6)
      throw new Error(
        `the warm exact σ1 ${again.scores.sigma1} differs from the cold one ${a.scores.sigma1}`,
      );
    r = {
      method: name,
      mode: 'exact',
      seconds,
      warmSeconds,
      sigma1: a.scores.sigma1,
      frobenius: a.scores.sensitivity,
      ssm: a.scores.ssm,
      backwardSeeds: active,
      forwardModeTangents: 0,
      rows: active * batch,
      peakRssGb: 0,
      extra: {
        attributionS: a.timing.attributionMs / 1000,
        spectrumS: a.timing.spectrumMs / 1000,
        storage,
        rowsPerRun: runner.rowsPerRun(),
      },
    };
  } else {
    const opts = { seed: 0, features, start: mode.split('/')[1] as MatrixFreeStart };
    const e = await estimateSpectrum(method, x, opts);
    const seconds = (performance.now() - t0) / 1000;
    // the rest of one protocol row: the predicted class's heat map and pixel flipping
    const t1 = performance.now();
    const k = e.outputs.indexOf(Math.max(...e.outputs));
    const { seeds, K } = oneHotSeeds(runner.outputSize, [k]);
    const h = channelSum((await method.attribute(x, seeds, K)).attributions, 3);
    const heatmapS = (performance.now() - t1) / 1000;
    // pixel flipping through the live pass session (the logits borrowed from it)
    const tp = performance.now();
    await pixelFlipping(runner, x, h, { preset: PRESETS.imagenet, target: k });
    const pfBorrowedS = (performance.now() - tp) / 1000;
    const heatmapAndPfS = (performance.now() - t1) / 1000;
    const t2 = performance.now();
    const again = await estimateSpectrum(method, x, opts);
    const warmSeconds = (performance.now() - t2) / 1000;
    if (Math.abs(again.sigma1 / e.sigma1 - 1) > 1e-6)
      throw new Error(`the warm estimate of σ1 ${again.sigma1} differs from the cold one ${e.sigma1}`);
    // as `reproduce imagenet` flips pixels on large models: the pass session released for a plain
    // forward session (its creation included here; the protocol makes one per chunk of images)
    await runner.makeRoomForForward();
    const tf = performance.now();
    await pixelFlipping(runner, x, h, { preset: PRESETS.imagenet, target: k });
    const pfOwnS = (performance.now() - tf) / 1000;
    r = {
      method: name,
      mode,
      seconds,
      warmSeconds,
      sigma1: e.sigma1,
      frobenius: e.frobenius,
      ssm: e.ssm,
      backwardSeeds: e.backwardSeeds,
      forwardModeTangents: e.forwardModeTangents,
      rows: e.backwardRows + e.forwardModeRows,
      peakRssGb: 0,
      extra: {
        sigma1Bounds: e.sigma1Bounds,
        frobeniusBounds: e.frobeniusBounds,
        certified: e.certified,
        stage: e.stage,
        columns: e.columns.length,
        iterations: e.iterations,
        probes: e.probesUsed,
        heatmapAndPfS,
        heatmapS,
        pfBorrowedS,
        pfOwnS,
      },
    };
  }
  await runner.release();
  r.peakRssGb = peakRssGb();
  return r;
}

const caseArg = argOf('case', '');
if (caseArg) {
  const [name, mode] = caseArg.split(':');
  process.stdout.write(`${JSON.stringify(await runCase(name, mode))}\n`);
  process.exit(0);
}

if (!existsSync(MODEL)) {
  mkdirSync(join(ROOT, 'scratch'), { recursive: true });
  writeFileSync(MODEL, compileForward(randomVgg16(0)).bytes);
  process.stdout.write(`wrote ${MODEL} (random VGG16, not for committing)\n`);
}
const exactFor = argOf('exact', 'lrp,gradient').split(',').filter(Boolean);
const cases = argOf('cases', 'lrp,sg,ig').split(',').filter(Boolean);
const run = (name: string, mode: string): CaseResult => {
  const extra = [
    ...(process.argv.includes('--memory-budget') ? ['--memory-budget', argOf('memory-budget', '4')] : []),
    ...(process.argv.includes('--features') ? ['--features', argOf('features', 'pixels')] : []),
  ];
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'imagenet.ts'), '--case', `${name}:${mode}`, ...extra],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(out.trim().split('\n').pop()!) as CaseResult;
  process.stdout.write(`${JSON.stringify(r)}\n`);
  return r;
};
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** the case in `repeats` fresh processes: the first's numbers with the median cold and warm times */
const repeated = (name: string, mode: string, repeats: number): CaseResult => {
  const runs = Array.from({ length: repeats }, () => run(name, mode));
  const seconds = runs.map((r) => r.seconds);
  const warmSeconds = runs.map((r) => r.warmSeconds);
  return {
    ...runs[0],
    seconds: median(seconds),
    warmSeconds: median(warmSeconds),
    peakRssGb: Math.max(...runs.map((r) => r.peakRssGb)),
    repeats: { seconds, warmSeconds },
  };
};
const repeats = Math.max(1, Number(argOf('repeats', '3')));
const results: CaseResult[] = [];
// matrix-free first (minutes), then the exact R (≈ 6+ minutes each for LRP on 2 cores)
const starts = argOf('starts', 'columns').split(',').filter(Boolean);
for (const name of cases) for (const start of starts) results.push(repeated(name, `mf/${start}`, repeats));
for (const name of exactFor) results.push(run(name, 'exact'));
// the cost of one exact row, measured in this run: SmoothGrad's and IG's exact R are gradient rows
// (n = m = 10 per output), LRP's its own; the exact R of every method computes the active
// outputs' columns only (f_k > 0: the same outputs for every method)
const exactOf = (m: string) => results.find((r) => r.method === m && r.mode === 'exact');
const perRowOf = (m: string, warm: boolean) => {
  const ex = exactOf(m === 'sg' || m === 'ig' ? 'gradient' : m);
  return ex ? (warm ? ex.warmSeconds : ex.seconds) / ex.rows : Number.NaN;
};
const lrpExact = exactOf('lrp');
const activeOutputs = lrpExact ? lrpExact.backwardSeeds : Number.NaN;
process.stdout.write('\nVGG16 (random weights), chelsea.jpg, 1000 outputs; contended 2-core machine\n');
process.stdout.write(
  'cold: the first analysis of a fresh process (compile + session included); warm: the same again on the live session (each further image of a setting in `reproduce imagenet`)\n',
);
process.stdout.write(
  `matrix-free: medians of ${repeats} fresh processes (their ranges below the table); exact R: one process (126 runs of 4 rows average out the noise)\n`,
);
process.stdout.write(
  'method   mode         cold s  warm s   × faster cold   × faster warm  seeds/tangents  rows  σ1 rel.err  ‖R‖_F rel.err  peak RSS GiB\n',
);
for (const r of results) {
  const ex = results.find((q) => q.method === r.method && q.mode === 'exact');
  const batch = r.method === 'sg' || r.method === 'ig' ? 10 : 1;
  const exactS = (warm: boolean) =>
    ex ? (warm ? ex.warmSeconds : ex.seconds) : perRowOf(r.method, warm) * activeOutputs * batch;
  const speed = (warm: boolean) =>
    r.mode === 'exact'
      ? '1'
      : `${(exactS(warm) / (warm ? r.warmSeconds : r.seconds)).toFixed(1)}${ex ? '' : ' (extrap.)'}`;
  const e1 = ex && r !== ex ? (Math.abs(r.sigma1 - ex.sigma1) / ex.sigma1).toExponential(2) : '–';
  const e2 = ex && r !== ex ? (Math.abs(r.frobenius - ex.frobenius) / ex.frobenius).toExponential(2) : '–';
  process.stdout.write(
    `${r.method.padEnd(8)} ${r.mode.padEnd(12)} ${r.seconds.toFixed(1).padStart(6)}  ${r.warmSeconds.toFixed(1).padStart(6)}  ${speed(false).padStart(14)}  ${speed(true).padStart(14)}  ${`${r.backwardSeeds}/${r.forwardModeTangents}`.padStart(14)}  ${String(r.rows).padStart(4)}  ${e1.padStart(10)}  ${e2.padStart(13)}  ${r.peakRssGb.toFixed(2).padStart(12)}\n`,
  );
}
for (const r of results)
  if (r.repeats && r.repeats.seconds.length > 1) {
    const range = (v: number[]) => `${Math.min(...v).toFixed(1)}-${Math.max(...v).toFixed(1)} s`;
    process.stdout.write(
      `${r.method} ${r.mode}: cold ${range(r.repeats.seconds)}, warm ${range(r.repeats.warmSeconds)} over ${r.repeats.seconds.length} processes\n`,
    );
  }
// per-image cost of the full protocol (13 γ, 6 noise levels, IG), from the matrix-free rows
const mfOf = (m: string) => results.find((r) => r.method === m && r.mode === `mf/${starts[0]}`);
// as `reproduce imagenet` runs a setting on VGG16: per chunk of PF_CHUNK images, the spectra and
// heat maps on the pass session (warm, but made again per chunk: (cold − warm) / PF_CHUNK), then
// pixel flipping on a forward session (its creation counted per image: an overestimate)
const rowS = (r?: CaseResult) =>
  r
    ? r.warmSeconds +
      (r.seconds - r.warmSeconds) / PF_CHUNK +
      Number(r.extra?.heatmapS ?? 0) +
      Number(r.extra?.pfOwnS ?? 0)
    : Number.NaN;
if (['lrp', 'sg', 'ig'].every((m) => mfOf(m))) {
  const perImage = 13 * rowS(mfOf('lrp')) + 6 * rowS(mfOf('sg')) + rowS(mfOf('ig'));
  process.stdout.write(
    `\nper image, full protocol (13 γ + 6 noise levels + IG, matrix-free, with heat map and PF): ${perImage.toFixed(0)} s` +
      ` (chunks of ${PF_CHUNK} images: spectra + heat maps on the pass session, then pixel flipping on a forward session); exact R instead: ≈ ${(activeOutputs * (13 * perRowOf('lrp', true) + (6 * 10 + 10) * perRowOf('sg', true))).toFixed(0)} s (extrapolated from the measured warm cost per LRP and gradient row, ${activeOutputs} active outputs)\n`,
  );
} else
  process.stdout.write('\nper-image protocol cost: needs the lrp, sg and ig cases (--cases lrp,sg,ig)\n');
