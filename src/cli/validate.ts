/**
 * Numeric command-line options: one parser per option with its range, finiteness and
 * integrality, so that `--samples 0`, `--noise inf` or `--seed 1.5` fail at once with the
 * option's name instead of producing NaN or all-zero results. Also the resource limits derived
 * from the memory budget (checked before anything is allocated) and the final guard on results.
 */

import { type RStore, stripes } from '../spectral/r-store.js';

/** A bad option value; the message names the option */
export class OptionError extends Error {}

export interface NumberRule {
  integer?: boolean;
  min?: number;
  /** min is excluded (a value must be > min) */
  above?: boolean;
  max?: number;
  /** accept `inf` (γ = ∞ is meaningful) */
  allowInf?: boolean;
}

export const COUNT: NumberRule = { integer: true, min: 1 };
export const INDEX: NumberRule = { integer: true, min: 0 };
/** seeds are unsigned 32-bit integers: no silent wrap-around modulo 2^32, no 1.5 ≡ 1 */
export const SEED: NumberRule = { integer: true, min: 0, max: 2 ** 32 - 1 };
export const GAMMA: NumberRule = { min: 0, allowInf: true };
export const POSITIVE: NumberRule = { min: 0, above: true };
export const FINITE: NumberRule = {};
/** SmoothGrad noise level s, relative to the input range: beyond 100 the signal is gone */
export const NOISE: NumberRule = { min: 0, max: 100 };
export const FRACTION: NumberRule = { min: 0, above: true, max: 1 };

function describe(rule: NumberRule): string {
  const parts: string[] = [];
  const kind = rule.integer ? 'an integer' : rule.allowInf ? 'a number (or inf)' : 'a finite number';
  if (rule.min !== undefined) parts.push(`${rule.above ? '>' : '≥'} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`);
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}

/** Check a number against a rule; the error names `flag` and the value */
export function checkNumber(flag: string, v: number, rule: NumberRule = FINITE, text = String(v)): number {
  const ok =
    !Number.isNaN(v) &&
    (Number.isFinite(v) || (rule.allowInf === true && v === Number.POSITIVE_INFINITY)) &&
    (!rule.integer || Number.isInteger(v)) &&
    (rule.min === undefined || (rule.above ? v > rule.min : v >= rule.min)) &&
    (rule.max === undefined || v <= rule.max);
  if (!ok) throw new OptionError(`${flag} expects ${describe(rule)}, got "${text}"`);
  return v;
}

/** Parse one number (`inf` / `Infinity` allowed where the rule allows it) */
export function parseNumber(flag: string, text: string, rule: NumberRule = FINITE): number {
  const t = text.trim();
  const v = t === 'inf' || t === 'Infinity' || t === '+inf' ? Number.POSITIVE_INFINITY : Number(t);
  if (t === '' || Number.isNaN(v)) throw new OptionError(`${flag} expects ${describe(rule)}, got "${text}"`);
  return checkNumber(flag, v, rule, text);
}

/** A commander argument parser for a numeric option */
export function numberOption(flag: string, rule: NumberRule = FINITE): (text: string) => number {
  return (text) => parseNumber(flag, text, rule);
}

/** A commander argument parser for a comma-separated list of numbers */
export function numberListOption(flag: string, rule: NumberRule = FINITE): (text: string) => number[] {
  return (text) => text.split(',').map((s) => parseNumber(flag, s, rule));
}

/** `--metrics a,b`: every name must be known; an empty list is an error */
export function parseNameList(flag: string, text: string, known: readonly string[]): Set<string> {
  const names = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new OptionError(`${flag}: empty list (known: ${known.join(', ')})`);
  for (const n of names)
    if (!known.includes(n))
      throw new OptionError(`${flag}: unknown name "${n}" (known: ${known.join(', ')})`);
  return new Set(names);
}

/**
 * Resource limit: `count` items of `bytesEach` must fit the memory budget. Checked before the
 * allocation, so `--steps 100000000` fails in a millisecond with advice instead of hanging.
 */
export function checkBudget(what: string, count: number, bytesEach: number, budgetBytes: number): void {
  const need = count * bytesEach;
  if (need > budgetBytes) {
    const gib = (b: number) => `${(b / 1024 ** 3).toPrecision(3)} GiB`;
    throw new OptionError(
      `${what}: needs about ${gib(need)}, over the memory budget of ${gib(budgetBytes)} ` +
        `(at most ${Math.max(0, Math.floor(budgetBytes / bytesEach))}; raise --memory-budget to allow more)`,
    );
  }
}

/**
 * The final guard: a result with NaN/Inf is refused (nothing is written), an all-zero one is
 * written with a warning. Returns the warning (or undefined) so callers can also put it in JSON.
 */
export function guardResult(what: string, data: ArrayLike<number>): string | undefined {
  return zeroWarning(what, data.length > 0 && !finiteNonzero(what, data, 0));
}

/** guardResult for R wherever it is (memory or disk), stripe by stripe */
export function guardStore(what: string, store: RStore): string | undefined {
  let nonzero = false;
  for (const { i0, rows } of stripes(store)) nonzero = finiteNonzero(what, rows, i0 * store.c) || nonzero;
  return zeroWarning(what, store.d * store.c > 0 && !nonzero);
}

/** whether any value is non-zero; throws on the first NaN/Inf, naming its flat index */
function finiteNonzero(what: string, data: ArrayLike<number>, offset: number): boolean {
  let nonzero = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v))
      throw new Error(
        `${what}: the result holds ${v} at flat index ${offset + i}; nothing written (check the options)`,
      );
    if (v !== 0) nonzero = true;
  }
  return nonzero;
}

function zeroWarning(what: string, allZero: boolean): string | undefined {
  if (allZero) {
    const msg = `warning: ${what}: every value is 0 (the method found no attribution; check the options)`;
    process.stderr.write(`${msg}\n`);
    return msg;
  }
  return undefined;
}
