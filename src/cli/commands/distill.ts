/** `diff-instruct distill`: Diff-Instruct (or SiD / DMD / SDS) distillation of a teacher into a generator. */
import type { Command } from 'commander';
import { addConfigOptions, explicitConfigValues } from '../../config/config.js';
import { checkDenoiserFile } from '../../teacher/load.js';
import { DistillConfig } from '../../distill/config.js';
import type { DistillSetup } from '../../distill/setup.js';
import { buildSetup } from '../../distill/build.js';
import { disposeSetup, resumeDistillConfig, runDistill, type DistillResult } from '../../distill/trainer.js';
import { action, addDeviceOption, distillConfigFor, dryRun, useDevice, reportStop, withInterrupt, withTrainingBatchThatFits } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('distill')
    .description('distill a diffusion teacher into a one-step generator with Diff-Instruct (--loss ikl), SiD, DMD or SDS');
  addConfigOptions(cmd, DistillConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // --resume continues the saved run's config; only length/logging/evaluation keys may change.
      const { cfg, note } = typeof opts.resume === 'string' && opts.resume ? { cfg: resumeDistillConfig(opts.resume, explicitConfigValues(DistillConfig, opts)), note: '' } : await distillConfigFor(DistillConfig, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device, [() => cfg.teacher.startsWith('toy:') || checkDenoiserFile(cfg.teacher, ['teacher'])], note);
        return;
      }
      await runDistillCommand(cfg, opts.device as string | undefined, () => buildSetup(cfg), 'distill', note);
    }),
  );
}

/**
 * The body shared by `distill` and `refine`: build the setup on the chosen device, run the trainer with
 * Ctrl-C (SIGTERM, SIGHUP) wired to a clean stop, print where the run went and, when it stopped early, the
 * command that continues it (`<command> --resume <run folder>`), free
 * the teacher, and return the result.
 */
export async function runDistillCommand(cfg: DistillConfig, device: string | undefined, makeSetup: () => Promise<DistillSetup>, command: string, note = ''): Promise<DistillResult> {
  const dev = await useDevice(device);
  const setup = await makeSetup();
  if (note) process.stderr.write(note + '\n'); // once the inputs loaded: an error stays the only line
  let result: DistillResult | undefined;
  try {
    await withTrainingBatchThatFits(cfg.batch, async () => {
      const r = await withInterrupt((signal) => runDistill(cfg, setup, { signal, device: `${dev.backend}: ${dev.name}` }));
      const last = r.metrics.at(-1);
      console.log(`run folder: ${r.runDir}`);
      console.log(`generator:  ${r.snapshots.at(-1) ?? '(none)'}`);
      if (last) console.log(`metrics:    ${JSON.stringify(last)}`);
      reportStop({ runDir: r.runDir, stopReason: r.stopReason, steps: r.genSteps }, command, device);
      result = r;
    }, { resumed: !!cfg.resume });
    return result!;
  } finally {
    disposeSetup(setup);
  }
}
