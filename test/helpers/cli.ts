/** Run the built CLI (dist/, built by `npm ci` → prepare, or `npm run build`). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export function xspectra(
  args: string[],
  timeout = 600_000,
): { code: number; stdout: string; stderr: string } {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run npm run build');
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'xspectra.js'), ...args], {
    encoding: 'utf8',
    timeout,
    cwd: ROOT,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
