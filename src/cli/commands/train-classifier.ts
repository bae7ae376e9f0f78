/**
 * `diff-instruct train-classifier`: trains the feature classifier behind our image metrics (FD-FMNIST,
 * FD-MNIST, KID, precision/recall, IS analogue; src/metrics/) on a dataset's train split and writes
 * `models/classifier-<fmnist|mnist>.safetensors`.
 */
import type { Command } from 'commander';
import { addConfigOptions, configFromOptions } from '../../config/config.js';
import { TrainClassifierSchema, trainClassifier } from '../../metrics/train-classifier.js';
import { action, addDeviceOption, dryRun, useDevice } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('train-classifier')
    .description('train the metric feature classifier on a dataset\'s train split (models/classifier-*.safetensors)');
  addConfigOptions(cmd, TrainClassifierSchema);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(TrainClassifierSchema, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device);
        return;
      }
      await useDevice(opts.device as string | undefined);
      const r = await trainClassifier(cfg, (line) => process.stderr.write(line + '\n'));
      console.log(JSON.stringify(r));
    }),
  );
}
