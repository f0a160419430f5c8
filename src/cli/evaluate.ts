/** `xspectra evaluate`: pixel flipping and entropy of a given heat map or of a method's own. */
import type { Command } from 'commander';
import { attribute } from '../api/attribute.js';
import { readNpyFile } from '../io/files.js';
import { asFloat32 } from '../io/npy.js';
import { createMethod } from '../methods/factory.js';
import { preset as presetOf } from '../methods/presets.js';
import { argmax } from '../methods/types.js';
import { channelSum, entropy } from '../metrics/entropy.js';
import { pixelFlipping } from '../metrics/pixel-flipping.js';
import {
  addMethodOptions,
  addModelOptions,
  budgetOf,
  methodSpec,
  modelRecord,
  num,
  openModel,
  optionsRecord,
} from './common.js';
import { fmt, toJson } from './format.js';
import { resolveInputs } from './inputs.js';
import { COUNT, FRACTION, guardResult, INDEX, parseNameList } from './validate.js';

export function registerEvaluate(program: Command): void {
  const cmd = program.command('evaluate').description('pixel flipping (Telea) and entropy of a heat map');
  addModelOptions(cmd);
  addMethodOptions(cmd);
  cmd
    .option('--input <x>', 'mnist:N, X.npy or an image', 'mnist:0')
    .option(
      '--heatmap <H.npy>',
      "heat map to score: (H, W), (C, H, W) or (1, C, H, W); default: the method's own for the predicted class",
    )
    .option('--metrics <list>', 'pf, entropy', 'pf,entropy')
    .option(
      '--fraction <f>',
      'pixel-flipping budget as a fraction of pixels',
      num('--fraction', FRACTION),
      0.05,
    )
    .option('--flip-steps <T>', 'pixel-flipping steps', num('--flip-steps', COUNT), 20)
    .option('--radius <r>', 'Telea radius (default 3 grey, 5 RGB)', num('--radius', COUNT))
    .option('--softmax', 'track the softmax probability instead of the logit')
    .option('--target <k>', 'class to track (default: predicted)', num('--target', INDEX))
    .option('--json', 'JSON output')
    .action(async (o) => {
      const metrics = parseNameList('--metrics', o.metrics, ['pf', 'entropy']);
      const { runner, model, preset, path } = await openModel(o);
      const [inp] = resolveInputs(o.input, model.inputShape, preset, budgetOf(o));
      const shape = model.inputShape;
      const [C, H, W] = shape;
      const logits = await runner.forward(inp.x, 1);
      const target = o.target ?? argmax(logits);
      if (target >= runner.outputSize)
        throw new Error(
          `--target ${target}: the model has ${runner.outputSize} outputs (0 to ${runner.outputSize - 1})`,
        );
      let h: Float64Array;
      let source: Record<string, unknown>;
      if (o.heatmap) {
        const a = asFloat32(readNpyFile(o.heatmap), o.heatmap);
        if (a.data.length !== H * W && a.data.length !== C * H * W) {
          throw new Error(`${o.heatmap}: shape [${a.shape}] is neither [${H},${W}] nor [${C},${H},${W}]`);
        }
        const bad = a.data.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new Error(`${o.heatmap}: contains ${a.data[bad]} at flat index ${bad}`);
        h = a.data.length === H * W ? Float64Array.from(a.data) : channelSum(a.data, C);
        source = { heatmap: o.heatmap };
      } else {
        const spec = methodSpec(o, preset, shape);
        const method = createMethod(runner, spec);
        // the attribute convention: the map explains f_target (LRP seeded with f_k·e_k)
        const ex = await attribute(method, inp.x, target);
        h = channelSum(ex.attributions, C);
        source = {
          method: method.name,
          options: { ...optionsRecord(spec), ...method.options },
          convention: ex.convention,
        };
      }
      guardResult(`${inp.id}: the heat map`, h);
      const out: Record<string, unknown> = {};
      if (metrics.has('entropy')) out.entropy = entropy(h);
      if (metrics.has('pf')) {
        const pf = await pixelFlipping(runner, inp.x, h, {
          fraction: o.fraction,
          steps: o.flipSteps,
          radius: o.radius,
          softmax: !!o.softmax,
          target,
          preset: presetOf(preset),
        });
        guardResult('pixel flipping (PF-AUC, PF-AUC-norm)', [pf.auc, pf.aucNorm]);
        Object.assign(out, {
          pfAuc: pf.auc,
          pfAucNorm: pf.aucNorm,
          pfCurve: pf.curve,
          pfCounts: pf.counts,
          pfRadius: pf.radius,
        });
      }
      const doc = {
        schema: 'xspectra.evaluate/1',
        model: modelRecord(path, model),
        input: inp.id,
        target,
        source,
        metrics: out,
      };
      if (o.json) process.stdout.write(`${toJson(doc)}\n`);
      else {
        process.stdout.write(`${inp.id}, class ${target}\n`);
        if (out.entropy !== undefined) process.stdout.write(`entropy     ${fmt(out.entropy as number)}\n`);
        if (out.pfAuc !== undefined)
          process.stdout.write(
            `PF-AUC      ${fmt(out.pfAuc as number)}\nPF-AUC-norm ${fmt(out.pfAucNorm as number)}\n`,
          );
      }
      await runner.release();
    });
}
