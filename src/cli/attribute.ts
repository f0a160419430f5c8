/** `xspectra attribute`: attributions of every output class as one NPY array (c, C, H, W). */
import type { Command } from 'commander';
import { attribute } from '../api/attribute.js';
import { prepareOutput, writeNpyFile } from '../io/files.js';
import { createMethod } from '../methods/factory.js';
import {
  addMethodOptions,
  addModelOptions,
  budgetOf,
  methodSpec,
  modelRecord,
  numList,
  openModel,
  optionsRecord,
} from './common.js';
import { toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { guardResult } from './validate.js';

export function registerAttribute(program: Command): void {
  const cmd = program
    .command('attribute')
    .description(
      'attributions of every output class for one input, as NPY (c, C, H, W); map k explains f_k ' +
        '(LRP seeded with f_k·e_k; G×I, IG, Shapley sum to ≈ f_k − f_k(baseline)), or R’s columns with --normalized',
    );
  addModelOptions(cmd);
  addMethodOptions(cmd);
  cmd
    .requiredOption('--input <x>', 'mnist:N, X.npy ((1,C,H,W) or (C,H,W)) or PNG/JPEG with --preprocess')
    .requiredOption('--out <A.npy>', 'output file')
    .option('--target <k,...>', 'classes to explain (default: all)', numList('--target'))
    .option('--normalized', "write R's columns E_k/f_k (LRP seeded with e_k; 0 where f_k ≤ 0) instead")
    .option(
      '--per-group <G.npy>',
      'Shapley: also write the value of every feature group (c, F) and the mask next to it (G.mask.npy)',
    )
    .option('--json', 'print a JSON summary')
    .action(async (o) => {
      prepareOutput(o.out, '--out');
      if (o.perGroup) prepareOutput(o.perGroup, '--per-group');
      const { runner, model, path, preset } = await openModel(o);
      const inputs = resolveInputs(o.input, model.inputShape, preset, budgetOf(o));
      if (inputs.length !== 1)
        throw new Error(`--input ${o.input} holds ${inputs.length} inputs; attribute takes one`);
      const spec = methodSpec(o, preset, model.inputShape);
      if (o.perGroup && spec.method !== 'shapley')
        throw new Error(`--per-group applies to --method shapley, not ${spec.method}`);
      const method = createMethod(runner, spec);
      const t0 = performance.now();
      const a = await attribute(method, inputs[0].x, o.target, { normalized: Boolean(o.normalized) });
      const ms = performance.now() - t0;
      const warning = guardResult(`attribute ${method.name}`, a.attributions);
      writeNpyFile(o.out, { shape: a.shape, data: a.attributions });
      if (o.perGroup && a.groups) {
        const [, H, W] = model.inputShape;
        writeNpyFile(o.perGroup, { shape: [a.targets.length, a.groups.count], data: a.groups.attributions });
        writeNpyFile(o.perGroup.replace(/(\.npy)?$/i, '.mask.npy'), { shape: [H, W], data: a.groups.mask });
      }
      const summary = {
        schema: 'xspectra.attribute/1',
        model: modelRecord(path, model),
        input: inputs[0].id,
        method: method.name,
        options: { ...optionsRecord(spec), ...method.options },
        seed: spec.seed,
        convention: a.convention,
        conventionNote:
          a.convention === 'f_k'
            ? 'map k explains f_k: it sums to about f_k − f_k(baseline) (f_k for LRP with a conservative composite)'
            : "map k is R's column k, E_k/f_k (0 where f_k ≤ 0)",
        targets: a.targets,
        outputs: a.outputs,
        baselineOutputs: a.baselineOutputs,
        inactiveTargets: a.inactiveTargets,
        mapSums: mapSums(a.attributions, a.targets.length),
        groups: a.groups
          ? {
              count: a.groups.count,
              convention: "every pixel of a group holds the group's whole value (Captum)",
              sums: mapSums(a.groups.attributions, a.targets.length),
              out: o.perGroup,
            }
          : undefined,
        diagnostics: a.diagnostics,
        out: o.out,
        shape: a.shape,
        timing: { attributionMs: ms },
        ...(warning ? { warning } : {}),
      };
      if (o.json) process.stdout.write(`${toJson(summary)}\n`);
      else
        process.stdout.write(
          `wrote ${o.out}: ${a.targets.length} classes × [${model.inputShape}] (${method.name}, ${a.convention === 'f_k' ? 'map k explains f_k' : 'normalized: E_k/f_k'}, ${ms.toFixed(0)} ms)\n`,
        );
      await runner.release();
    });
}

function mapSums(a: Float32Array, K: number): number[] {
  const per = a.length / K;
  return Array.from({ length: K }, (_, k) => a.subarray(k * per, (k + 1) * per).reduce((s, v) => s + v, 0));
}
