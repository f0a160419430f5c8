/**
 * Honest progress on stderr: a bar on a terminal; elsewhere (CI logs, nohup, pipes) one plain
 * line every `intervalMs` with done/total, the rate of the work done in this process (over the last
 * minute) and the ETA from it, so that a long run never looks hung. Resumed (skipped) items are
 * counted but not in the rate.
 */
import { SingleBar } from 'cli-progress';

export interface ProgressOptions {
  /** false: print nothing */
  enabled?: boolean;
  /** force the plain-line mode (default: plain when stderr is not a TTY) */
  plain?: boolean;
  /** plain mode: milliseconds between lines (default 10 s, env XSPECTRA_PROGRESS_INTERVAL_MS) */
  intervalMs?: number;
  /** show nothing until this many ms have passed (short runs stay quiet) */
  delayMs?: number;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Progress {
  /** done includes skipped; extra text (e.g. "loss 0.12") is appended */
  update(done: number, total: number, opts?: { skipped?: number; extra?: string }): void;
  stop(): void;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? true;
  const plain = opts.plain ?? !stream.isTTY;
  const interval = opts.intervalMs ?? Number(process.env.XSPECTRA_PROGRESS_INTERVAL_MS ?? 10_000);
  const start = Date.now();
  let lastLine = 0;
  let bar: SingleBar | undefined;
  let last = { done: 0, total: 0, skipped: 0, extra: '' };
  // the rate over the last minute: later items can be slower (Shapley after LRP in reproduce)
  const recent: { t: number; worked: number }[] = [];
  const line = () => {
    const { done, total, skipped, extra } = last;
    const now = Date.now();
    const secs = (now - start) / 1000;
    const worked = done - skipped;
    while (recent.length > 1 && now - recent[1].t >= 60_000) recent.shift();
    const from = recent[0] && now - recent[0].t >= 5_000 ? recent[0] : { t: start, worked: 0 };
    const rate = now > from.t ? ((worked - from.worked) * 1000) / (now - from.t) : 0;
    recent.push({ t: now, worked });
    const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    const pct = total ? ((100 * done) / total).toFixed(1) : '0';
    const parts = [
      `${label}: ${done}/${total} (${pct}%)`,
      `${rate >= 10 ? rate.toFixed(0) : rate.toPrecision(2)}/s`,
      `elapsed ${formatDuration(secs)}`,
      done >= total ? 'done' : `ETA ${formatDuration(eta)}`,
    ];
    if (skipped) parts.push(`resumed ${skipped}`);
    if (extra) parts.push(extra);
    stream.write(`${parts.join(', ')}\n`);
    lastLine = Date.now();
  };
  return {
    update(done, total, o = {}) {
      if (!enabled) return;
      last = { done, total, skipped: o.skipped ?? 0, extra: o.extra ?? '' };
      const now = Date.now();
      if (opts.delayMs && now - start < opts.delayMs && done < total) return;
      if (plain) {
        if (now - lastLine >= interval || (done >= total && lastLine > 0)) line();
        return;
      }
      if (!bar && done < total) {
        bar = new SingleBar({
          format: `${label} {bar} {value}/{total} | {extra} ETA {eta_formatted}`,
          stream,
          etaBuffer: 50,
        });
        bar.start(total, done, { extra: '' });
      }
      const extra = [o.skipped ? `resumed ${o.skipped}` : '', o.extra ?? ''].filter(Boolean).join(', ');
      bar?.update(done, { extra: extra ? `${extra} |` : '' });
      if (bar && done >= total) {
        bar.stop();
        bar = undefined;
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
