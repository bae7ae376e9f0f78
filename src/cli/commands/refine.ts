/**
 * `diff-instruct refine`: Diff-Instruct with a pre-trained generator (a GAN from `train-gan`, or a
 * one-step generator) as the student and an EDM teacher (src/distill/setup-refine.ts); every `distill`
 * option applies. Writes before.png / after-<kimg>.png from the same seeds and metrics at each snapshot.
 * `--resume <run folder>` continues a stopped refinement exactly, as `distill --resume` does.
 */
import type { Command } from 'commander';
import { basename } from 'node:path';
import { addConfigOptions, explicitConfigValues } from '../../config/config.js';
import { checkDenoiserFile, resolveNetworkPath } from '../../teacher/load.js';
import { RefineConfig, setupRefine } from '../../distill/setup-refine.js';
import { resumeDistillConfig } from '../../distill/trainer.js';
import { action, addDeviceOption, distillConfigFor, dryRun } from '../common.js';
import { runDistillCommand } from './distill.js';

/** Run folder suffix: refine-<generator file>-<loss> (the distill default names the teacher). */
function defaultDesc(cfg: RefineConfig): string {
  const gen = basename(cfg.generator).replace(/\.safetensors$/, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `refine-${gen || 'generator'}-${cfg.loss}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('refine')
    .description('improve a pre-trained generator (GAN or one-step) with Diff-Instruct against a diffusion teacher (--generator, --teacher; all distill options)');
  addConfigOptions(cmd, RefineConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      // --resume continues the saved run's config (its generator too); only length/logging/evaluation keys may change
      const resuming = typeof opts.resume === 'string' && opts.resume !== '';
      const { cfg: parsed, note } = resuming ? { cfg: resumeDistillConfig(opts.resume as string, explicitConfigValues(RefineConfig, opts), RefineConfig), note: '' } : await distillConfigFor(RefineConfig, opts);
      const cfg = { ...parsed, desc: parsed.desc || defaultDesc(parsed) };
      if (opts.dryRun) {
        dryRun(cfg, opts.device, [() => checkDenoiserFile(cfg.teacher, ['teacher']), () => resolveNetworkPath(cfg.generator)], note);
        return;
      }
      await runDistillCommand(cfg, opts.device as string | undefined, () => setupRefine(cfg), 'refine', note);
    }),
  );
}
