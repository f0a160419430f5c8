/** `xspectra rules`: which rule each layer of a model gets under a composite. */
import type { Command } from 'commander';
import { pixelValue, preset as presetOf } from '../methods/presets.js';
import { presetComposite, ruleTable } from '../rules/composites.js';
import { addModelOptions, num, numList, openModel } from './common.js';
import { table, toJson } from './format.js';
import { GAMMA } from './validate.js';

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
    .option('--json', 'JSON output')
    .action(async (o) => {
      const { model, preset, runner } = await openModel(o);
      const ch = model.inputShape.length === 3 ? model.inputShape[0] : 1;
      const p = presetOf(preset);
      const comp = presetComposite(o.composite, o.gamma, {
        low: o.low ?? pixelValue(p, 0, ch),
        high: o.high ?? pixelValue(p, 1, ch),
      });
      const rows = ruleTable(model, comp);
      if (o.json)
        process.stdout.write(`${toJson({ composite: comp.name, notes: model.notes, layers: rows })}\n`);
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
