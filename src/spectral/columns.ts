/**
 * Which outputs become columns of R, and how each column is normalised (the choices the paper
 * leaves open; issue 9's ablation). DESIGN §1.2's definition is the default: every output, column
 * k = E_k / f_k. Alternatives:
 *   - scale `raw`:  column k = E_k, the attribution map that explains f_k (not divided);
 *   - scale `sum`:  column k = E_k / Σ_i E_ik (normalised by its own relevance sum, so every
 *                   column sums to 1; a column whose sum is 0 stays 0);
 *   - select `top:N`:   only the N outputs with the largest f_k (ties: lower index first);
 *   - select `above:T`: only the outputs with f_k > T.
 * Written as `SCALE`, `SELECT` or `SCALE+SELECT`, e.g. `sum+top:3`. The inactive policy
 * (f_k ≤ 0: zero / drop / keep) applies to the selected outputs.
 */
export type ColumnScale = 'output' | 'raw' | 'sum';
export const COLUMN_SCALES: ColumnScale[] = ['output', 'raw', 'sum'];

export interface ColumnChoice {
  scale: ColumnScale;
  select?: { top: number } | { above: number };
}

export const DEFAULT_COLUMNS: ColumnChoice = { scale: 'output' };

export function parseColumns(spec: string): ColumnChoice {
  const bad = (why: string) =>
    new Error(
      `--columns "${spec}": ${why} (expected output|raw|sum, optionally +top:N or +above:T, e.g. sum+top:3)`,
    );
  const choice: ColumnChoice = { scale: 'output' };
  const parts = spec.split('+').map((p) => p.trim());
  if (parts.length > 2 || parts.some((p) => p === '')) throw bad('malformed');
  let scaleSeen = false;
  for (const p of parts) {
    if ((COLUMN_SCALES as string[]).includes(p)) {
      if (scaleSeen) throw bad('two scales');
      choice.scale = p as ColumnScale;
      scaleSeen = true;
      continue;
    }
    const m = /^(top|above):(.+)$/.exec(p);
    if (!m) throw bad(`unknown part "${p}"`);
    if (choice.select) throw bad('two selections');
    const v = Number(m[2]);
    if (m[1] === 'top') {
      if (!Number.isInteger(v) || v < 1) throw bad(`top:N needs a whole number N ≥ 1, got "${m[2]}"`);
      choice.select = { top: v };
    } else {
      if (!Number.isFinite(v)) throw bad(`above:T needs a finite number T, got "${m[2]}"`);
      choice.select = { above: v };
    }
  }
  return choice;
}

/** Canonical text of a choice (inverse of parseColumns; the default is `output`) */
export function columnsLabel(c: ColumnChoice): string {
  const sel = c.select ? ('top' in c.select ? `top:${c.select.top}` : `above:${c.select.above}`) : '';
  return sel ? `${c.scale}+${sel}` : c.scale;
}

export function isDefaultColumns(c: ColumnChoice): boolean {
  return c.scale === 'output' && !c.select;
}

/** The outputs a choice selects, in index order */
export function selectOutputs(outputs: ArrayLike<number>, c: ColumnChoice): number[] {
  const all = Array.from({ length: outputs.length }, (_, k) => k);
  if (!c.select) return all;
  if ('above' in c.select) {
    const t = c.select.above;
    return all.filter((k) => outputs[k] > t);
  }
  const top = [...all].sort((a, b) => outputs[b] - outputs[a] || a - b).slice(0, c.select.top);
  return top.sort((a, b) => a - b);
}

/**
 * Scale applied to a method's raw column (its attribution of the one-hot seed e_k) so that it
 * becomes column k of R under the choice. A method's raw column is E_k (gradient-type methods,
 * `divideByOutput`) or E_k / f_k (LRP, seeded with e_k). `sum` is applied afterwards (it needs
 * the column itself), from the `output`-scaled column.
 */
export function rawColumnScale(scale: ColumnScale, divideByOutput: boolean, fk: number): number {
  if (scale === 'raw') return divideByOutput ? 1 : fk;
  return divideByOutput ? 1 / fk : 1;
}
