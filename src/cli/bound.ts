/** `xspectra bound`: the LRP-γ operator-norm bound per layer and for the network. */
import { type Command, Option } from 'commander';
import { createMethod } from '../methods/factory.js';
import { pixelValue, preset as presetOf } from '../methods/presets.js';
import { assignRules, presetComposite } from '../rules/composites.js';
import { analyze } from '../spectral/analyze.js';
import { gammaBound } from '../spectral/bound.js';
import { addModelOptions, num, numList, openModel } from './common.js';
import { table, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { GAMMA, SEED } from './validate.js';

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
          `${toJson({ schema: 'xspectra.bound/1', model: path, input: inp.id, inactive: o.inactive, reports })}\n`,
        );
      } else {
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
                l.exceedsBound
                  ? 'used map exceeds bound'
                  : l.inputNonNegative
                    ? ''
                    : 'input has negatives: bound assumes a ≥ 0',
              ]),
            )}\n`,
          );
          process.stdout.write(
            `network: product of bounds ${r.productOfBounds.toExponential(4)}, × other layers' norms ${r.productOfBoundsTimesOtherNorms.toExponential(4)}, product of used norms ${r.productOfUsedNorms.toExponential(4)}; measured ‖R‖_1 ${r.measuredL1Norm.toFixed(4)}, σ1 ${r.sigma1.toFixed(4)}\n`,
          );
        }
      }
      await runner.release();
    });
}
