/** `diff-instruct train-teacher`: trains (or resumes) an EDM teacher (src/teacher/trainer.ts). */
import type { Command } from 'commander';
import { addConfigOptions, configFromOptions, explicitConfigValues } from '../../config/config.js';
import { checkDenoiserFile } from '../../teacher/load.js';
import { TeacherConfig } from '../../teacher/config.js';
import { resumeConfig, trainTeacher } from '../../teacher/trainer.js';
import { action, addDeviceOption, dryRun, useDevice, reportStop, withInterrupt, withTrainingBatchThatFits } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('train-teacher')
    .description('train an EDM diffusion teacher (SongUNet on Fashion-MNIST/MNIST, or an MLP on a 2-D toy); --resume continues a run exactly');
  addConfigOptions(cmd, TeacherConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = typeof opts.resume === 'string' && opts.resume ? resumeConfig(opts.resume, explicitConfigValues(TeacherConfig, opts)) : configFromOptions(TeacherConfig, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device, [() => cfg.init && checkDenoiserFile(cfg.init, ['teacher'])]);
        return;
      }
      const dev = await useDevice(opts.device as string);
      await withTrainingBatchThatFits(cfg.batch, async () => {
        const r = await withInterrupt((signal) => trainTeacher(cfg, { signal, device: `${dev.backend}: ${dev.name}` }));
        console.log(`run folder: ${r.runDir}`);
        console.log(`teacher:    ${r.snapshots.at(-1) ?? '(none)'}`);
        console.log(`state:      ${r.statePath}`);
        reportStop({ runDir: r.runDir, stopReason: r.stoppedEarly, steps: r.steps }, 'train-teacher', opts.device as string | undefined);
      }, { resumed: !!cfg.resume });
    }),
  );
}
