/**
 * Benchmark: the browser lab's update time on the shipped MNIST CNN, measured in headless
 * chromium (the page's own timer from the change to the last DOM write: R, spectrum, scores,
 * decomposition, pixel flipping with Telea, heat maps and plots), for several kinds of parameter
 * change, as ratios to the same analysis + pixel flipping on onnxruntime-node in this process.
 * Run: npm run bench:lab [-- --runs N]   (builds dist/web when stale; needs /usr/bin/chromium)
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { mnistTestDigit } from '../src/data/mnist.js';
import { createMethod } from '../src/methods/factory.js';
import { pixelFlipping } from '../src/metrics/pixel-flipping.js';
import { loadModelFile } from '../src/model/load-file.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { ensureWebBuild, openBrowser, scores, startLab, waitForUpdate } from '../test/helpers/lab.js';
import { arg, median, report } from './common.js';

const RUNS = arg('runs', 8);
const BUDGET_MS = 150;

// baseline: the same work on onnxruntime-node
const runner = new ModelRunner(
  loadModelFile(join(import.meta.dirname, '..', 'models', 'mnist-cnn.onnx')),
  new NodeEngine(),
);
const { x } = mnistTestDigit(0);
const nodeUpdate = async () => {
  const a = await analyze(createMethod(runner, { method: 'lrp', composite: 'mnist-paper', gamma: 0.25 }), x, {
    components: 8,
  });
  await pixelFlipping(runner, x, a.decomposition!.explanation, { target: a.decomposition!.target });
};
await nodeUpdate();
const base = await median(20, nodeUpdate);

ensureWebBuild();
const lab = await startLab();
const { browser, context } = await openBrowser();
try {
  const page = await context.newPage();
  await page.goto(`${lab.url}?digit=0&method=lrp&composite=mnist-paper&gamma=0.25`);
  await waitForUpdate(page, 0);
  await page.waitForFunction(() => document.getElementById('scores')!.dataset.opencv === 'ready', null, {
    timeout: 60_000,
  });
  await pageIdle(page);
  const status = (await page.textContent('#status')) ?? '';
  process.stdout.write(
    `lab update on the shipped MNIST CNN, headless chromium (${status.split(' · ').slice(1).join(', ')})\n`,
  );
  report('onnxruntime-node: LRP R + spectrum + PF (baseline)', base, base, 'node');

  /** Set an input's value, fire `change`, return the page's update time (ms). */
  const change = async (id: string, value: string): Promise<number> => {
    const n = Number((await scores(page)).updates);
    await page.fill(`#${id}`, value);
    await page.dispatchEvent(`#${id}`, 'change');
    const d = await waitForUpdate(page, n);
    return Number(d.updateMs);
  };
  const cases: [string, string, string[]][] = [
    [
      'γ change, on the curve grid (session cached)',
      'gamma',
      ['0.1', '0.32', '1', '3.2', '0.032', '10', '0.56', '0.18'],
    ],
    ['γ change, new γ (compiles a graph + session)', 'gamma', []],
    ['test digit change', 'digit', ['1', '2', '3', '4', '5', '6', '7', '8']],
    [
      'γ change on the grid, again (other digit)',
      'gamma',
      ['0.1', '0.32', '1', '3.2', '0.032', '10', '0.56', '0.18'],
    ],
  ];
  for (const [name, id, values] of cases) {
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const v = values.length ? values[r % values.length] : (0.21 + 0.013 * (r + 1)).toFixed(3);
      times.push(await change(id, v));
      if (process.env.LAB_BENCH_VERBOSE)
        process.stdout.write(`  ${id}=${v}: ${await page.textContent('#status')}\n`);
      await pageIdle(page);
    }
    times.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)];
    report(`${name}, median`, med, base, 'node');
    process.stdout.write(
      `${''.padEnd(48)} min ${times[0].toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms, ` +
        `${times.filter((t) => t < BUDGET_MS).length}/${times.length} under ${BUDGET_MS} ms\n`,
    );
  }
} finally {
  await browser.close();
  lab.proc.kill();
  await runner.release();
}

/** After a new input the curve restarts in the background; let it finish so runs do not overlap. */
async function pageIdle(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      (({ curvePoints, curveTotal }) => curvePoints !== undefined && curvePoints === curveTotal)(
        document.getElementById('scores')!.dataset,
      ),
    null,
    {
      timeout: 120_000,
    },
  );
}
