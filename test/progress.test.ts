/**
 * Honest progress: plain periodic lines (done/total, rate, ETA) when stderr is not a terminal,
 * and a report whose wall time sums every resumed run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, progress } from '../src/cli/progress.js';
import { xspectra } from './helpers/cli.js';

function sink() {
  const lines: string[] = [];
  return { lines, stream: { isTTY: false, write: (s: string) => lines.push(s.trimEnd()) > 0 } as never };
}

describe('progress', () => {
  it('prints plain lines with done/total, rate and ETA when not on a terminal', async () => {
    const { lines, stream } = sink();
    const p = progress('work', { stream, intervalMs: 0 });
    p.update(0, 4);
    await new Promise((r) => setTimeout(r, 50));
    p.update(2, 4, { skipped: 1 });
    p.update(4, 4, { skipped: 1 });
    expect(lines[0]).toMatch(/^work: 0\/4 \(0\.0%\), 0\.0\/s, elapsed 0s, ETA \?$/);
    // 1 of the 2 was resumed: the rate counts the one computed in ~50 ms
    const m = lines[1].match(/^work: 2\/4 \(50\.0%\), ([\d.]+)\/s, elapsed \d+s, ETA (\d+)s, resumed 1$/);
    expect(m, lines[1]).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(1);
    expect(Number(m![1])).toBeLessThan(25);
    expect(lines[2]).toMatch(/^work: 4\/4 \(100\.0%\), .* done, resumed 1$/);
  });

  it('waits the interval between lines and prints nothing when disabled', () => {
    const { lines, stream } = sink();
    const p = progress('w', { stream, intervalMs: 60_000 });
    for (let i = 0; i < 10; i++) p.update(i, 100);
    expect(lines).toHaveLength(1);
    const off = sink();
    const q = progress('w', { stream: off.stream, enabled: false });
    q.update(1, 2);
    expect(off.lines).toHaveLength(0);
  });

  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(532)).toBe('8m 52s');
    expect(formatDuration(7300)).toBe('2h 01m');
  });

  it('reproduce logs progress lines to a pipe and sums the wall time of resumed runs', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'xspectra-progress-')), 'report');
    process.env.XSPECTRA_PROGRESS_INTERVAL_MS = '0';
    try {
      const r = xspectra(['reproduce', 'mnist', '--quick', '--images', '1', '--no-ablation', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^reproduce: 1\/11 \(9\.1%\), [\d.]+\/s, elapsed \d+s, ETA \d+s$/m);
      expect(r.stderr).toMatch(/^reproduce: 11\/11 \(100\.0%\), .*done$/m);
      const first = JSON.parse(readFileSync(join(out, 'runs.json'), 'utf8')).runs;
      expect(first).toHaveLength(1);
      const again = xspectra([
        'reproduce',
        'mnist',
        '--quick',
        '--images',
        '1',
        '--no-ablation',
        '--out',
        out,
      ]);
      expect(again.stderr).toMatch(/resumed 11/);
      const runs = JSON.parse(readFileSync(join(out, 'runs.json'), 'utf8')).runs;
      expect(runs.map((x: { computed: number }) => x.computed)).toEqual([11, 0]);
      const total = runs[0].seconds + runs[1].seconds;
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      expect(md).toContain(`wall time of the computation: ${total.toFixed(0)} s over 2 runs`);
      expect(Number(total.toFixed(0))).toBeGreaterThanOrEqual(Number(runs[0].seconds.toFixed(0)));
    } finally {
      delete process.env.XSPECTRA_PROGRESS_INTERVAL_MS;
    }
  }, 300_000);
});
