/** `diff-instruct train-gan`: trains (or resumes) a DCGAN-style GAN with R1 (src/gan/trainer.ts). */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { addConfigOptions, coerceCliValue, configFromOptions, describeConfig, toKebab } from '../../config/config.js';
import { GanConfig } from '../../gan/config.js';
import { ganResumeConfig, trainGan } from '../../gan/trainer.js';
import { action, addDeviceOption, useDevice } from '../common.js';

/** The config values set explicitly (config file, then flags), to lay over a resumed run's saved config. */
function explicitValues(opts: Record<string, unknown>): Record<string, unknown> {
  let raw: Record<string, unknown> = {};
  if (typeof opts.config === 'string') {
    try {
      raw = JSON.parse(readFileSync(opts.config, 'utf8'));
    } catch (e) {
      throw new Error(`config file '${opts.config}' cannot be read as JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  for (const [k, t] of Object.entries(GanConfig.shape)) {
    const v = opts[k] ?? opts[toKebab(k).replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase())];
    if (typeof v === 'string') raw[k] = coerceCliValue(t as any, v, k);
  }
  delete raw.resume;
  return raw;
}

export function register(program: Command): void {
  const cmd = program
    .command('train-gan')
    .description('train a DCGAN-style GAN (non-saturating loss + R1) on Fashion-MNIST/MNIST, e.g. to refine with Diff-Instruct; --resume continues a run exactly');
  addConfigOptions(cmd, GanConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = typeof opts.resume === 'string' && opts.resume ? ganResumeConfig(opts.resume, explicitValues(opts)) : configFromOptions(GanConfig, opts);
      if (opts.dryRun) {
        console.log(describeConfig(GanConfig, cfg));
        return;
      }
      const dev = await useDevice(opts.device as string);
      const ac = new AbortController();
      const onSig = () => {
        process.stderr.write('\ninterrupted: finishing the step, writing a snapshot and the training state...\n');
        ac.abort();
      };
      process.once('SIGINT', onSig);
      try {
        const r = await trainGan(cfg, { signal: ac.signal, device: `${dev.backend}: ${dev.name}` });
        const last = r.metrics.at(-1);
        console.log(`run folder: ${r.runDir}`);
        console.log(`generator:  ${r.snapshots.at(-1) ?? '(none)'}`);
        console.log(`state:      ${r.statePath}`);
        if (last) console.log(`metrics:    ${JSON.stringify(last)}`);
        if (r.stoppedEarly === 'interrupted') process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSig);
      }
    }),
  );
}
