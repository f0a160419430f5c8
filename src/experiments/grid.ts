/** Parameter grids: explicit lists (`0,0.001,…,inf`) or `logspace:a,b,n` / `linspace:a,b,n`. */

/** A grid text that cannot be used; the message names the option and quotes the text */
export class GridError extends Error {}

/** Default cap on grid points: a point costs far more than 1 KiB of sweep state and stored row */
export const DEFAULT_MAX_GRID_POINTS = 1_000_000;

function number(name: string, text: string, s: string): number {
  const t = s.trim();
  const v = t === 'inf' || t === 'Infinity' ? Number.POSITIVE_INFINITY : Number(t);
  if (t === '' || Number.isNaN(v)) throw new GridError(`${name}: "${s}" in "${text}" is not a number`);
  return v;
}

/**
 * Parse a grid; `maxPoints` (derived from the memory budget by the caller) is checked before
 * anything is allocated, so `linspace:0,1,1000000000` fails at once instead of in V8.
 */
export function parseGrid(text: string, name: string, maxPoints = DEFAULT_MAX_GRID_POINTS): number[] {
  const t = text.trim();
  const kind = /^([a-z]+):/i.exec(t)?.[1];
  if (kind !== undefined) {
    const m = /^(logspace|linspace):([^,]+),([^,]+),([^,]+)$/.exec(t);
    if (!m)
      throw new GridError(
        `${name}: bad grid syntax "${text}": expected logspace:a,b,n or linspace:a,b,n (three values) or a list v1,v2,...`,
      );
    const a = number(name, text, m[2]);
    const b = number(name, text, m[3]);
    const n = number(name, text, m[4]);
    if (!Number.isFinite(a) || !Number.isFinite(b))
      throw new GridError(`${name}: grid "${text}": the end points must be finite`);
    if (!Number.isInteger(n) || n < 1)
      throw new GridError(`${name}: grid "${text}": the point count must be an integer ≥ 1, got ${m[4]}`);
    if (n > maxPoints)
      throw new GridError(`${name}: grid "${text}": ${n} points, more than the limit of ${maxPoints}`);
    if (m[1] === 'logspace' && (Math.abs(a) > 308 || Math.abs(b) > 308))
      throw new GridError(`${name}: grid "${text}": 10^${Math.max(Math.abs(a), Math.abs(b))} is not a float`);
    return Array.from({ length: n }, (_, i) => {
      const s = n === 1 ? 0 : i / (n - 1);
      return m[1] === 'logspace' ? 10 ** (a + s * (b - a)) : a + s * (b - a);
    });
  }
  const parts = t.split(',');
  if (parts.length > maxPoints)
    throw new GridError(`${name}: ${parts.length} values, more than the limit of ${maxPoints}`);
  return parts.map((s) => number(name, text, s));
}

/** Round for use as a key (so 0.1 from logspace and 0.1 typed by hand are the same parameter) */
export function keyNumber(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(10)) : v;
}
