/**
 * `diff-instruct refine`: Diff-Instruct with a pre-trained generator (a GAN from `train-gan`, or a
 * one-step generator) as the student and an EDM teacher (src/distill/setup-refine.ts); every `distill`
 * option applies. Writes before.png / after-<kimg>.png from the same seeds and metrics at each snapshot.
 */
import type { Command } from 'commander';
import { basename } from 'node:path';
import { addConfigOptions, configFromOptions, describeConfig } from '../../config/config.js';
import { RefineConfig, setupRefine } from '../../distill/setup-refine.js';
import { disposeSetup, runDistill } from '../../distill/trainer.js';
import { action, addDeviceOption, useDevice, withInterrupt } from '../common.js';

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
      const parsed = configFromOptions(RefineConfig, opts);
      const cfg = { ...parsed, desc: parsed.desc || defaultDesc(parsed) };
      if (opts.dryRun) {
        console.log(describeConfig(RefineConfig, cfg));
        return;
      }
      const dev = await useDevice(opts.device as string);
      const setup = await setupRefine(cfg);
      try {
        const r = await withInterrupt((signal) => runDistill(cfg, setup, { signal, device: `${dev.backend}: ${dev.name}` }));
        const last = r.metrics.at(-1);
        console.log(`run folder: ${r.runDir}`);
        console.log(`generator:  ${r.snapshots.at(-1) ?? '(none)'}`);
        if (last) console.log(`metrics:    ${JSON.stringify(last)}`);
      } finally {
        disposeSetup(setup);
      }
    }),
  );
}
