/**
 * The browser lab in headless chromium (Debian's, through playwright-core), served by
 * `xspectra lab` on a free port: offline, same numbers as `xspectra analyze`, drawing, dropping a
 * model. Screenshots go to test-artifacts/lab/ (ignored by git); blank canvases fail the test.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMethod, type MethodSpec } from '../src/methods/factory.js';
import { loadModelFile } from '../src/model/load-file.js';
import { NodeEngine } from '../src/runtime/node.js';
import { ModelRunner } from '../src/runtime/runner.js';
import { analyze } from '../src/spectral/analyze.js';
import { xspectra } from './helpers/cli.js';
import { FIXTURES } from './helpers/fixtures.js';
import {
  type Dataset,
  ensureWebBuild,
  openBrowser,
  ROOT,
  scores,
  startLab,
  waitForUpdate,
} from './helpers/lab.js';

const ART = join(ROOT, 'test-artifacts', 'lab');
const VIEW = '?digit=0&method=lrp&composite=mnist-paper&gamma=0.25';
const SCORE_KEYS = ['sigma1', 'stability', 'sensitivity', 'ssm', 'effectiveRank', 'l1Norm'] as const;

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

/** Canvases that must show something: a single-colour canvas there means a broken render. */
async function blankCanvases(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (els) =>
    (els as HTMLCanvasElement[])
      .map((c, i) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        for (let j = 4; j < d.length; j += 4)
          if (d[j] !== d[0] || d[j + 1] !== d[1] || d[j + 2] !== d[2]) return '';
        return `${c.id || c.parentElement?.textContent || 'canvas'} #${i} (${c.width}×${c.height})`;
      })
      .filter(Boolean),
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(join(ART, `${name}.png`), png);
  const img = PNG.sync.read(png);
  const colours = new Set<number>();
  for (let i = 0; i < img.data.length && colours.size < 50; i += 4 * 97)
    colours.add(img.data.readUInt32BE(i));
  expect(colours.size, `${name}.png looks blank`).toBeGreaterThan(20);
}

describe('browser lab (headless chromium)', () => {
  let lab: { url: string; proc: ChildProcess };
  let browser: Browser;
  let context: BrowserContext;
  let external: string[];
  let page: Page;
  let first: Dataset;

  beforeAll(async () => {
    ensureWebBuild();
    mkdirSync(ART, { recursive: true });
    lab = await startLab();
    ({ browser, context, external } = await openBrowser());
    page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(lab.url + VIEW);
    first = await waitForUpdate(page, 0, VIEW);
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    lab?.proc.kill();
  });

  it('loads offline, cross-origin isolated, and shows the scores of `xspectra analyze` (1e-5 relative)', async () => {
    expect(external).toEqual([]);
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    const cli = xspectra([
      'analyze',
      '--input',
      'mnist:0',
      '--composite',
      'mnist-paper',
      '--gamma',
      '0.25',
      '--json',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const ref = JSON.parse(cli.stdout);
    expect(Number(first.predicted)).toBe(ref.predicted);
    for (const k of SCORE_KEYS) expect(relErr(Number(first[k]), ref.scores[k]), k).toBeLessThan(1e-5);
    const sv = JSON.parse(first.singularValues!) as number[];
    expect(sv.length).toBe(ref.singularValues.length);
    for (const [i, s] of sv.entries())
      expect(relErr(s, ref.singularValues[i]), `σ${i + 1}`).toBeLessThan(1e-5);
    expect(await page.textContent('#status')).toMatch(/updated in [\d.]+ ms/);
  });

  it('renders every view: heat maps, decomposition, plots, pixel flipping; none blank; γ change updates URL and scores', async () => {
    await page.waitForFunction(() => document.getElementById('scores')!.dataset.opencv === 'ready', null, {
      timeout: 60_000,
    });
    let d = await scores(page);
    if (d.pfAuc === undefined) d = await waitForUpdate(page, Number(d.updates), VIEW);
    expect(Number(d.pfAuc)).toBeGreaterThan(-1e6);
    const blank = await blankCanvases(
      page,
      '#draw, #colourbar, #heatmaps .map.predicted canvas, #decomposition .map:nth-child(-n+3) canvas',
    );
    expect(blank).toEqual([]);
    expect(await page.locator('#heatmaps canvas').count()).toBe(10);
    for (const id of ['spectrum', 'pf', 'curve'])
      expect(await page.locator(`#${id} svg polyline`).count(), id).toBeGreaterThan(0);
    await screenshot(page, 'digit0-lrp-gamma0.25');
    // a parameter change: γ = 1 through the number field
    const before = Number(d.updates);
    await page.fill('#gamma', '1');
    await page.dispatchEvent('#gamma', 'change');
    const g1 = await waitForUpdate(page, before, '?digit=0&method=lrp&composite=mnist-paper&gamma=1');
    expect(page.url()).toContain('gamma=1');
    expect(Number(g1.ssm)).not.toBe(Number(first.ssm));
    expect(Number(g1.updateMs)).toBeGreaterThan(0);
    // export: the JSON download holds the shown numbers, the PNG download is an image with content
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const doc = JSON.parse(readFileSync(await json.path(), 'utf8'));
    expect(doc.schema).toBe('xspectra.lab/1');
    expect(doc.view).toBe('?digit=0&method=lrp&composite=mnist-paper&gamma=1');
    expect(doc.scores.ssm).toBe(Number(g1.ssm));
    expect(doc.R.rowMajor.length).toBe(784 * 10);
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
    const img = PNG.sync.read(readFileSync(await png.path()));
    expect(img.width).toBeGreaterThan(600);
    // another method: SmoothGrad, whose curve runs over the noise level
    const n = Number((await scores(page)).updates);
    await page.selectOption('#method', 'sg');
    const sg = await waitForUpdate(page, n, '?digit=0&method=sg&noise=0.1&samples=10&seed=0');
    expect(Number(sg.ssm)).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#curve-title')).toContain('noise');
    const n2 = Number((await scores(page)).updates);
    await page.selectOption('#method', 'lrp');
    await waitForUpdate(page, n2, '?digit=0&method=lrp&composite=mnist-paper&gamma=1');
  });

  it('drawing strokes on the canvas changes the prediction', async () => {
    const p0 = Number(first.predicted);
    const n = Number((await scores(page)).updates);
    await page.click('#clear');
    await waitForUpdate(page, n);
    const box = (await page.locator('#draw').boundingBox())!;
    const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
    // a "1": one vertical stroke in the middle
    const n2 = Number((await scores(page)).updates);
    await page.mouse.move(...at(0.5, 0.15));
    await page.mouse.down();
    for (let t = 1; t <= 10; t++) await page.mouse.move(...at(0.5, 0.15 + 0.07 * t));
    await page.mouse.up();
    await page.waitForFunction((n) => {
      const d = document.getElementById('scores')!.dataset;
      return Number(d.updates) > n && d.input === 'drawing' && !d.busy;
    }, n2);
    const d = await scores(page);
    expect(d.input).toBe('drawing');
    expect(Number(d.predicted)).not.toBe(p0);
    expect(await blankCanvases(page, '#draw, #heatmaps .map.predicted canvas')).toEqual([]);
    await screenshot(page, 'drawn');
  });

  it('dropping test/fixtures/models/vgg-mini-bn.onnx opens it, and its numbers equal the Node core on the same input', async () => {
    const n = Number((await scores(page)).updates);
    const bytes = readFileSync(join(FIXTURES, 'models', 'vgg-mini-bn.onnx')).toString('base64');
    await page.evaluate(
      ({ b64 }) => {
        const data = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([data], 'vgg-mini-bn.onnx'));
        document
          .getElementById('drop')!
          .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
      },
      { b64: bytes },
    );
    await page.waitForFunction(() =>
      document.getElementById('model-name')!.textContent!.includes('vgg-mini-bn.onnx'),
    );
    await page.waitForFunction(
      (n) => {
        const d = document.getElementById('scores')!.dataset;
        return (Number(d.updates) > n && d.predicted !== undefined) || d.error;
      },
      n,
      { timeout: 60_000 },
    );
    const d = await waitForUpdate(page, n);
    expect(await page.textContent('#model-name')).toContain('3×32×32');
    // the exported state holds the exact input; the Node core (onnxruntime-node) must agree
    // biome-ignore lint/suspicious/noExplicitAny: the page's export object
    const st: any = await page.evaluate(() => (globalThis as any).xspectraLab.exportState());
    expect(st.model.inputShape).toEqual([3, 32, 32]);
    const model = loadModelFile(join(FIXTURES, 'models', 'vgg-mini-bn.onnx'));
    expect(st.model.hash).toBe(model.hash);
    const runner = new ModelRunner(model, new NodeEngine());
    const a = await analyze(
      createMethod(runner, st.method.spec as MethodSpec),
      Float32Array.from(st.input.x),
      {
        features: 'pixels',
        inactive: 'zero',
      },
    );
    await runner.release();
    expect(Number(d.predicted)).toBe(a.predicted);
    // float32 kernels of WASM and native ORT sum in different orders; on a drawn input the 3-channel
    // model's R is small (σ1 ~ 0.03) and its scores agree to ~1e-5 (measured 2.9e-5 at worst)
    for (const k of SCORE_KEYS) expect(relErr(Number(d[k]), a.scores[k]), k).toBeLessThan(1e-4);
    expect(await blankCanvases(page, '#heatmaps .map.predicted canvas')).toEqual([]);
    await screenshot(page, 'vgg-mini-bn');
  });
});
