/** `diff-instruct distill`: Diff-Instruct (or SiD / DMD / SDS) distillation of a teacher into a generator. */
import type { Command } from 'commander';
import { addConfigOptions, configFromOptions, describeConfig } from '../../config/config.js';
import { DistillConfig } from '../../distill/config.js';
import { buildSetup } from '../../distill/build.js';
import { disposeSetup, runDistill } from '../../distill/trainer.js';
import { action, addDeviceOption, useDevice } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('distill')
    .description('distill a diffusion teacher into a one-step generator with Diff-Instruct (--loss ikl), SiD, DMD or SDS');
  addConfigOptions(cmd, DistillConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(DistillConfig, opts);
      if (opts.dryRun) {
        console.log(describeConfig(DistillConfig, cfg));
        return;
      }
      const dev = await useDevice(opts.device as string);
      const setup = await buildSetup(cfg);
      const ac = new AbortController();
      const onSig = () => {
        process.stderr.write('\ninterrupted: finishing the step, writing a snapshot and the training state...\n');
        ac.abort();
      };
      process.once('SIGINT', onSig);
      try {
        const r = await runDistill(cfg, setup, { signal: ac.signal, device: `${dev.backend}: ${dev.name}` });
        const last = r.metrics.at(-1);
        console.log(`run folder: ${r.runDir}`);
        console.log(`generator:  ${r.snapshots.at(-1) ?? '(none)'}`);
        if (last) console.log(`metrics:    ${JSON.stringify(last)}`);
      } finally {
        process.off('SIGINT', onSig);
        disposeSetup(setup);
      }
    }),
  );
}
