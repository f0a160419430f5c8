/** `xspectra rules`: which rule each layer of a model gets under a composite. */
import { type Command, Option } from 'commander';
import { pixelValue, preset as presetOf } from '../methods/presets.js';
import { MAXPOOL_RULES } from '../propagate/maxpool-average.js';
import { presetComposite, ruleTable } from '../rules/composites.js';
import { addModelOptions, num, numList, openModel } from './common.js';
import { table, toJson } from './format.js';
import { GAMMA } from './validate.js';

export const COMPOSITE_HELP = `
Composites (γ from --gamma; z^B bounds from the preprocessing preset or --low/--high):
  mnist-paper        z^B on the first conv, LRP-γ on every other conv AND every dense layer
                     (the paper's MNIST composite, from the first author's thesis code; the SSM of
                     the paper's CNN peaks at an interior γ only when γ also governs the dense layer)
  gamma-all          LRP-γ on every conv, LRP-ε (1e-6) on the dense layers
  vgg16-paper        z^B on the first conv, LRP-γ on the other convs of blocks 1-3 (a block ends at
                     a max-pool), LRP-ε (1e-6) on later convs and all dense layers (paper, ImageNet)
  epsilon-gamma-box  z^B on the first conv, LRP-γ on the other convs, LRP-ε on dense (Zennit)
  selector=rule,...  your own, e.g. "first=zbox:0:1,conv=gamma:0.25,*=epsilon:1e-6"
Max-pools (--maxpool-rule): wta routes relevance to the arg-max (first index on ties); average
splits it proportionally to the inputs of each window (LRP-0 on the window average).
`;

export function registerRules(program: Command): void {
  const cmd = program.command('rules').description('print the LRP rule assigned to every layer');
  addModelOptions(cmd);
  cmd
    .option(
      '--composite <name>',
      'mnist-paper | gamma-all | vgg16-paper | epsilon-gamma-box | selector=rule,...',
      'gamma-all',
    )
    .option('--gamma <g>', 'γ', num('--gamma', GAMMA), 0.25)
    .option('--low <v,...>', 'z^B lower bound(s)', numList('--low'))
    .option('--high <v,...>', 'z^B upper bound(s)', numList('--high'))
    .addOption(
      new Option('--maxpool-rule <rule>', 'max-pools: winner takes all or average')
        .choices(MAXPOOL_RULES)
        .default('wta'),
    )
    .option('--json', 'JSON output')
    .addHelpText('after', COMPOSITE_HELP)
    .action(async (o) => {
      const { model, preset, runner } = await openModel(o);
      const ch = model.inputShape.length === 3 ? model.inputShape[0] : 1;
      const p = presetOf(preset);
      const comp = presetComposite(o.composite, o.gamma, {
        low: o.low ?? pixelValue(p, 0, ch),
        high: o.high ?? pixelValue(p, 1, ch),
      });
      const rows = ruleTable(model, comp, o.maxpoolRule);
      if (o.json)
        process.stdout.write(
          `${toJson({ composite: comp.name, maxpoolRule: o.maxpoolRule, notes: model.notes, layers: rows })}\n`,
        );
      else {
        process.stdout.write(`composite ${comp.name}\n`);
        for (const n of model.notes) process.stdout.write(`note: ${n}\n`);
        process.stdout.write(
          `${table(
            ['layer', 'op', 'rule'],
            rows.map((r) => [r.layer, r.op, r.rule, r.output]),
          )}\n`,
        );
      }
      await runner.release();
    });
}
