/**
 * Drive the browser lab: build it when its sources are newer than dist/web, start
 * `xspectra lab --port 0` (the built CLI), and open it in Debian's chromium through
 * playwright-core (never a downloaded browser). Used by test/lab.test.ts and bench/lab.ts.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const ROOT = join(import.meta.dirname, '..', '..');
const INDEX = join(ROOT, 'dist', 'web', 'index.html');
export const CHROMIUM = process.env.XSPECTRA_CHROMIUM ?? '/usr/bin/chromium';

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** `npm run build:web` if dist/web is missing or older than web/ or src/ (prepare builds it on npm ci). */
export function ensureWebBuild(): void {
  const built = existsSync(INDEX) ? statSync(INDEX).mtimeMs : 0;
  if (built > Math.max(newest(join(ROOT, 'web')), newest(join(ROOT, 'src')))) return;
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '-c', 'web/vite.config.ts'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`npm run build:web failed:\n${r.stdout}\n${r.stderr}`);
}

/** Start `xspectra lab --port 0 [args]` and return its URL. */
export async function startLab(args: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run npm run build');
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'xspectra.js'), 'lab', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve(m[0]);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`xspectra lab exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`xspectra lab printed no URL within 30 s: ${out}`)), 30_000);
  });
  return { url, proc };
}

/** A chromium context that lets only 127.0.0.1 through: anything else is aborted and recorded. */
export async function openBrowser(): Promise<{
  browser: Browser;
  context: BrowserContext;
  external: string[];
}> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const context = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
  });
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:')
      return route.continue();
    external.push(u.href);
    return route.abort();
  });
  return { browser, context, external };
}

export type Dataset = Record<string, string | undefined>;

export function scores(page: Page): Promise<Dataset> {
  return page.evaluate(() => ({ ...document.getElementById('scores')!.dataset }));
}

/** Wait until an update after `after` updates has finished for the given view (URL query). */
export async function waitForUpdate(
  page: Page,
  after: number,
  view?: string,
  timeout = 60_000,
): Promise<Dataset> {
  await page.waitForFunction(
    ({ after, view }) => {
      const d = document.getElementById('scores')!.dataset;
      if (d.error) return true;
      return !d.busy && Number(d.updates ?? 0) > after && (view === undefined || d.state === view);
    },
    { after, view },
    { timeout },
  );
  const d = await scores(page);
  if (d.error) throw new Error(`the lab reports an error: ${d.error}`);
  return d;
}
