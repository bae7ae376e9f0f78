/** `diff-instruct train-gan`: trains (or resumes) a DCGAN-style GAN with R1 (src/gan/trainer.ts). */
import type { Command } from 'commander';
import { addConfigOptions, configFromOptions, explicitConfigValues } from '../../config/config.js';
import { GanConfig } from '../../gan/config.js';
import { ganResumeConfig, trainGan } from '../../gan/trainer.js';
import { action, addDeviceOption, dryRun, useDevice, reportStop, withInterrupt, withTrainingBatchThatFits } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('train-gan')
    .description('train a DCGAN-style GAN (non-saturating loss + R1) on Fashion-MNIST/MNIST, e.g. to refine with Diff-Instruct; --resume continues a run exactly');
  addConfigOptions(cmd, GanConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = typeof opts.resume === 'string' && opts.resume ? ganResumeConfig(opts.resume, explicitConfigValues(GanConfig, opts)) : configFromOptions(GanConfig, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device);
        return;
      }
      const dev = await useDevice(opts.device as string);
      await withTrainingBatchThatFits(cfg.batch, async () => {
        const r = await withInterrupt((signal) => trainGan(cfg, { signal, device: `${dev.backend}: ${dev.name}` }));
        const last = r.metrics.at(-1);
        console.log(`run folder: ${r.runDir}`);
        console.log(`generator:  ${r.snapshots.at(-1) ?? '(none)'}`);
        console.log(`state:      ${r.statePath}`);
        if (last) console.log(`metrics:    ${JSON.stringify(last)}`);
        reportStop({ runDir: r.runDir, stopReason: r.stoppedEarly, steps: r.steps }, 'train-gan', opts.device as string | undefined);
      }, { resumed: !!cfg.resume });
    }),
  );
}
