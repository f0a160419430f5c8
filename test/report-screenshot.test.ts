/**
 * The rendered report as a reader sees it: the HTML of `reproduce mnist --quick` and the figures
 * of `analyze --method shapley --out`, opened in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core; no browser download). Fails on a missing or empty image, on a figure
 * shown smaller than its natural size, and on SVG text below 11 px.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xspectra } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
let browser: Browser;
const root = mkdtempSync(join(tmpdir(), 'xspectra-shot-'));

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** distinct colours in a screenshot: an empty (blank) image has one */
function colours(png: Buffer): number {
  const img = PNG.sync.read(png);
  const seen = new Set<number>();
  for (let i = 0; i < img.data.length; i += 4)
    seen.add((img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2]);
  return seen.size;
}

async function checkPage(file: string, minImages: number) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`file://${file}`);
  await page.waitForLoadState('load');
  const imgs = page.locator('img');
  const n = await imgs.count();
  expect(n).toBeGreaterThanOrEqual(minImages);
  for (let i = 0; i < n; i++) {
    const img = imgs.nth(i);
    const src = await img.getAttribute('src');
    const size = await img.evaluate((e: HTMLImageElement) => ({
      natural: [e.naturalWidth, e.naturalHeight],
      shown: [e.getBoundingClientRect().width, e.getBoundingClientRect().height],
      complete: e.complete,
    }));
    expect(size.complete && size.natural[0] > 0, `${src} did not load`).toBe(true);
    expect(size.shown[0], `${src} is shrunk`).toBeCloseTo(size.natural[0], 0);
    await img.scrollIntoViewIfNeeded();
    expect(colours(await img.screenshot()), `${src} is empty`).toBeGreaterThan(8);
  }
  await page.screenshot({ path: join(root, 'page.png'), fullPage: true });
  await page.close();
}

function minFontPx(svg: string): number {
  const sizes = [...svg.matchAll(/font-size="([\d.]+)(px)?"/g)].map((m) => Number(m[1]));
  return Math.min(...sizes);
}

describe('rendered report', () => {
  it('reproduce --quick: every figure loads, is not empty, is shown at natural size, text ≥ 11 px', async () => {
    const out = join(root, 'report');
    const r = xspectra(['reproduce', 'mnist', '--quick', '--images', '1', '--out', out, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    await checkPage(join(out, 'index.html'), 12);
    for (const f of readdirSync(out).filter((f) => f.endsWith('.svg'))) {
      const svg = readFileSync(join(out, f), 'utf8');
      expect(minFontPx(svg), f).toBeGreaterThanOrEqual(11);
      expect(Number(svg.match(/width="(\d+)"/)![1]), `${f} width`).toBeLessThanOrEqual(1140);
    }
    // one colour per method: LRP's line and IG's reference have the same colour in every panel
    const a = readFileSync(join(out, 'fig3-ssm-vs-gamma.svg'), 'utf8');
    const b = readFileSync(join(out, 'fig3-entropy-vs-gamma.svg'), 'utf8');
    for (const c of ['#0072b2', '#7b3294', '#d55e00']) {
      expect(a).toContain(c);
      expect(b).toContain(c);
    }
  }, 240_000);

  it('analyze --method shapley --out writes the heat maps it lists, and they render', async () => {
    const out = join(root, 'shapley');
    const r = xspectra(['analyze', '--method', 'shapley', '--patch', '7', '--samples', '4', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const listed = r.stdout.match(/^wrote (.*)$/m)![1].split(', ');
    expect(listed).toContain(join(out, 'heatmaps.svg'));
    expect(listed.filter((f) => f.endsWith('.png')).length).toBeGreaterThanOrEqual(4);
    for (const f of listed) expect(readdirSync(out)).toContain(f.slice(out.length + 1));
    const pngs = listed.filter((f) => f.endsWith('.png') && !f.endsWith('input.png'));
    const html = `<!doctype html><body style="margin:0">${[
      ...pngs,
      join(out, 'heatmaps.svg'),
      join(out, 'spectrum.svg'),
    ]
      .map((f) => `<img src="${f.slice(out.length + 1)}">`)
      .join('')}</body>`;
    const page = join(out, 'view.html');
    (await import('node:fs')).writeFileSync(page, html);
    await checkPage(page, pngs.length + 2);
  }, 120_000);
});
