/** Parameter grids: explicit lists (`0,0.001,…,inf`) or `logspace:a,b,n` / `linspace:a,b,n`. */
export function parseGrid(text: string, name: string): number[] {
  const m = /^(logspace|linspace):([^,]+),([^,]+),(\d+)$/.exec(text.trim());
  if (m) {
    const a = Number(m[2]);
    const b = Number(m[3]);
    const n = Number(m[4]);
    if (Number.isNaN(a) || Number.isNaN(b) || n < 1) throw new Error(`${name}: bad grid "${text}"`);
    return Array.from({ length: n }, (_, i) => {
      const t = n === 1 ? 0 : i / (n - 1);
      return m[1] === 'logspace' ? 10 ** (a + t * (b - a)) : a + t * (b - a);
    });
  }
  return text.split(',').map((s) => {
    const v = s.trim() === 'inf' || s.trim() === 'Infinity' ? Number.POSITIVE_INFINITY : Number(s);
    if (s.trim() === '' || Number.isNaN(v)) throw new Error(`${name}: "${s}" is not a number`);
    return v;
  });
}

/** Round for use as a key (so 0.1 from logspace and 0.1 typed by hand are the same parameter) */
export function keyNumber(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(10)) : v;
}
