/** Plain-text tables and number formatting for human output. */
export function fmt(v: number, digits = 5): string {
  if (!Number.isFinite(v) || (Number.isInteger(v) && Math.abs(v) < 1e6)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(digits - 1);
  return v.toPrecision(digits);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** JSON with non-finite numbers as strings (as the fixtures do), so the output is valid JSON */
export function toJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      typeof x === 'number' && !Number.isFinite(x)
        ? String(x)
        : ArrayBuffer.isView(x)
          ? Array.from(x as Float64Array)
          : x,
    2,
  );
}
