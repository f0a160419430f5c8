/** The `xspectra` command line. User errors print one line and exit non-zero, no stack trace. */
import { Command, CommanderError } from 'commander';
import { registerAnalyze } from './analyze.js';
import { registerAttribute } from './attribute.js';
import { registerBound } from './bound.js';
import { registerEvaluate } from './evaluate.js';
import { registerLab } from './lab.js';
import { registerReproduce } from './reproduce.js';
import { registerReproduceImagenet } from './reproduce-imagenet.js';
import { registerRules } from './rules.js';
import { registerMerge, registerSweep } from './sweep.js';
import { registerTrain } from './train.js';
import { registerCollect, registerQueue, registerWorker } from './worker.js';

export function buildProgram(): Command {
  const program = new Command('xspectra')
    .description('Spectral analysis of explanation quality (Maeß et al., 2025) on ONNX Runtime')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError(false);
  registerAttribute(program);
  registerRules(program);
  registerAnalyze(program);
  registerTrain(program);
  registerBound(program);
  registerSweep(program);
  registerMerge(program);
  registerWorker(program);
  registerCollect(program);
  registerQueue(program);
  registerEvaluate(program);
  registerReproduce(program);
  registerLab(program);
  registerReproduceImagenet(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // a command may set process.exitCode (merge: 3 for conflicts); keep it
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`xspectra: ${(e as Error).message}\n`);
    if (process.env.XSPECTRA_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
