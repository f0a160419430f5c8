/** `xspectra bound`: the LRP-γ operator-norm bound per layer and for the network. */
import { type Command, Option } from 'commander';
import { createMethod } from '../methods/factory.js';
import { pixelValue, preset as presetOf } from '../methods/presets.js';
import { assignRules, presetComposite } from '../rules/composites.js';
import { analyze } from '../spectral/analyze.js';
import { gammaBound, type LayerBound } from '../spectral/bound.js';
import { addModelOptions, modelRecord, num, numList, openModel } from './common.js';
import { table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { GAMMA, SEED } from './validate.js';

/** What the columns and flags mean: printed under the table, in --help, and in the JSON */
export const BOUND_LEGEND = {
  rho: 'ρ = max_k |z⁻_k| / z⁺_k over the output units of the layer (bias-free negative / positive parts of z_k = Σ_j a_j w_jk)',
  bound:
    'the appendix-B bound (1+γ+ρ)/(1+γ−ρ) on the ℓ1 operator norm of the bias-free LRP-γ map (∞ when ρ ≥ 1+γ)',
  biasFreeNorm:
    'ℓ1 operator norm of the bias-free γ map (columns with z⁺_k + z⁻_k > 0): the theorem says it is ≤ bound',
  usedNorm:
    'ℓ1 operator norm of the map LRP applies, whose denominators include the (γ-modified) bias b_k + γ·b⁺_k (ε / LRP-0 layers: all columns with z_k ≠ 0)',
  'used map exceeds bound':
    'used norm > bound: allowed, not an error. The bound covers bias-free layers; a negative bias shrinks the denominator z_k + b_k and scales that column up, so the map LRP uses can be larger. The bias-free norm is the one the theorem constrains.',
  'input has negatives: bound assumes a ≥ 0':
    'the layer input has negative values (e.g. the first layer on normalised images): the bound assumes non-negative activations and does not apply',
  network:
    'product of the γ layers’ bounds (×: times the measured norms of the other rule layers) and of the used norms, against ‖R‖_1 (max column ℓ1 norm of R) and σ1 of the measured R',
};

export function registerBound(program: Command): void {
  const cmd = program
    .command('bound')
    .description('LRP-γ operator-norm bound (paper appendix B) against the measured norms');
  addModelOptions(cmd);
  cmd
    .option('--input <x>', 'mnist:N, X.npy or an image', 'mnist:0')
    .option('--composite <name>', 'LRP composite', 'gamma-all')
    .option('--gamma <g,...>', 'one or more γ values', numList('--gamma', GAMMA), [0.25])
    .option('--low <v,...>', 'z^B lower bound(s)', numList('--low'))
    .option('--high <v,...>', 'z^B upper bound(s)', numList('--high'))
    .addOption(
      new Option('--inactive <policy>', 'columns of R for ‖R‖_1 and σ1')
        .choices(['zero', 'drop', 'keep'])
        .default('keep'),
    )
    .option('--json', 'JSON output')
    .option('--seed <s>', 'unused (no randomness); accepted for uniformity', num('--seed', SEED), 0)
    .addHelpText('after', `\nColumns and flags:\n${legendText()}`)
    .action(async (o) => {
      const { model, runner, preset, path } = await openModel(o);
      const [inp] = resolveInputs(o.input, model.inputShape, preset);
      const ch = model.inputShape.length === 3 ? model.inputShape[0] : 1;
      const p = presetOf(preset);
      const bounds = { low: o.low ?? pixelValue(p, 0, ch), high: o.high ?? pixelValue(p, 1, ch) };
      const reports = [];
      for (const gamma of o.gamma as number[]) {
        const comp = presetComposite(o.composite, gamma, bounds);
        const b = await gammaBound(model, runner.engine, assignRules(model, comp), inp.x);
        const a = await analyze(
          createMethod(runner, {
            method: 'lrp',
            composite: o.composite,
            gamma,
            low: bounds.low,
            high: bounds.high,
          }),
          inp.x,
          {
            inactive: o.inactive,
          },
        );
        a.matrix.store.release();
        reports.push({
          gamma,
          composite: comp.name,
          ...b,
          measuredL1Norm: a.scores.l1Norm,
          sigma1: a.scores.sigma1,
        });
      }
      if (o.json) {
        process.stdout.write(
          `${toJson({
            schema: 'xspectra.bound/1',
            model: modelRecord(path, model),
            input: inp.id,
            inactive: o.inactive,
            legend: BOUND_LEGEND,
            reports,
          })}\n`,
        );
      } else {
        const flagged = new Set<string>();
        for (const r of reports) {
          process.stdout.write(`\n${r.composite} on ${inp.id}\n`);
          process.stdout.write(
            `${table(
              ['layer', 'rule', 'rho', 'bound', 'bias-free norm', 'used norm', 'flag'],
              r.layers.map((l) => [
                l.layer,
                l.rule,
                l.rho ?? '-',
                l.bound ?? '-',
                l.biasFreeNorm ?? '-',
                l.bound !== undefined ? l.usedNorm : l.usedNormAllColumns,
                flagOf(l, flagged),
              ]),
            )}\n`,
          );
          process.stdout.write(
            `network: product of bounds ${r.productOfBounds.toExponential(4)}, × other layers' norms ${r.productOfBoundsTimesOtherNorms.toExponential(4)}, product of used norms ${r.productOfUsedNorms.toExponential(4)}; measured ‖R‖_1 ${r.measuredL1Norm.toFixed(4)}, σ1 ${r.sigma1.toFixed(4)}\n`,
          );
        }
        process.stdout.write(`\n${legendText(flagged)}\n`);
      }
      await runner.release();
    });
}

function flagOf(l: LayerBound, seen: Set<string>): string {
  const f = l.exceedsBound
    ? 'used map exceeds bound'
    : l.inputNonNegative
      ? ''
      : 'input has negatives: bound assumes a ≥ 0';
  if (f) seen.add(f);
  return f;
}

/** The legend: every column, and of the flags those that occurred (all of them in --help) */
function legendText(flags?: Set<string>): string {
  const cols: [string, string][] = [
    ['rho', BOUND_LEGEND.rho],
    ['bound', BOUND_LEGEND.bound],
    ['bias-free norm', BOUND_LEGEND.biasFreeNorm],
    ['used norm', BOUND_LEGEND.usedNorm],
    ['network', BOUND_LEGEND.network],
  ];
  for (const f of ['used map exceeds bound', 'input has negatives: bound assumes a ≥ 0'] as const)
    if (!flags || flags.has(f)) cols.push([`flag "${f}"`, BOUND_LEGEND[f]]);
  return cols.map(([k, v]) => `  ${k}: ${v}`).join('\n');
}
