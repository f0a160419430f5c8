/** `xspectra attribute`: attributions of every output class as one NPY array (c, C, H, W). */
import type { Command } from 'commander';
import { prepareOutput, writeNpyFile } from '../io/files.js';
import { createMethod } from '../methods/factory.js';
import { oneHotSeeds } from '../methods/types.js';
import {
  addMethodOptions,
  addModelOptions,
  budgetOf,
  methodSpec,
  openModel,
  optionsRecord,
} from './common.js';
import { toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { guardResult } from './validate.js';

export function registerAttribute(program: Command): void {
  const cmd = program
    .command('attribute')
    .description('attributions of every output class for one input, as NPY (c, C, H, W)');
  addModelOptions(cmd);
  addMethodOptions(cmd);
  cmd
    .requiredOption('--input <x>', 'mnist:N, X.npy ((1,C,H,W) or (C,H,W)) or PNG/JPEG with --preprocess')
    .requiredOption('--out <A.npy>', 'output file')
    .option('--json', 'print a JSON summary')
    .action(async (o) => {
      prepareOutput(o.out, '--out');
      const { runner, model, path, preset } = await openModel(o);
      const inputs = resolveInputs(o.input, model.inputShape, preset, budgetOf(o));
      if (inputs.length !== 1)
        throw new Error(`--input ${o.input} holds ${inputs.length} inputs; attribute takes one`);
      const spec = methodSpec(o, preset, model.inputShape);
      const method = createMethod(runner, spec);
      const { seeds, K } = oneHotSeeds(runner.outputSize);
      const t0 = performance.now();
      const ex = await method.attribute(inputs[0].x, seeds, K);
      const ms = performance.now() - t0;
      const warning = guardResult(`attribute ${method.name}`, ex.attributions);
      writeNpyFile(o.out, { shape: [K, ...model.inputShape], data: ex.attributions });
      const summary = {
        schema: 'xspectra.attribute/1',
        model: { path, hash: model.hash, notes: model.notes },
        input: inputs[0].id,
        method: method.name,
        options: { ...optionsRecord(spec), ...method.options },
        outputs: Array.from(ex.logits),
        diagnostics: ex.diagnostics,
        out: o.out,
        shape: [K, ...model.inputShape],
        timing: { attributionMs: ms },
        ...(warning ? { warning } : {}),
      };
      if (o.json) process.stdout.write(`${toJson(summary)}\n`);
      else
        process.stdout.write(
          `wrote ${o.out}: ${K} classes × [${model.inputShape}] (${method.name}, ${ms.toFixed(0)} ms)\n`,
        );
      await runner.release();
    });
}
