/** `diff-instruct train-teacher`: trains (or resumes) an EDM teacher (src/teacher/trainer.ts). */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { addConfigOptions, coerceCliValue, configFromOptions, describeConfig, toKebab } from '../../config/config.js';
import { TeacherConfig } from '../../teacher/config.js';
import { resumeConfig, trainTeacher } from '../../teacher/trainer.js';
import { action, addDeviceOption, useDevice } from '../common.js';

/** The config values the user set explicitly (config file, then flags), for resuming on top of a saved run. */
function explicitValues(opts: Record<string, unknown>): Record<string, unknown> {
  let raw: Record<string, unknown> = {};
  if (typeof opts.config === 'string') {
    try {
      raw = JSON.parse(readFileSync(opts.config, 'utf8'));
    } catch (e) {
      throw new Error(`config file '${opts.config}' cannot be read as JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  for (const [k, t] of Object.entries(TeacherConfig.shape)) {
    const v = opts[k] ?? opts[toKebab(k).replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase())];
    if (typeof v === 'string') raw[k] = coerceCliValue(t as any, v, k);
  }
  delete raw.resume;
  return raw;
}

export function register(program: Command): void {
  const cmd = program
    .command('train-teacher')
    .description('train an EDM diffusion teacher (SongUNet on Fashion-MNIST/MNIST, or an MLP on a 2-D toy); --resume continues a run exactly');
  addConfigOptions(cmd, TeacherConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = typeof opts.resume === 'string' && opts.resume ? resumeConfig(opts.resume, explicitValues(opts)) : configFromOptions(TeacherConfig, opts);
      if (opts.dryRun) {
        console.log(describeConfig(TeacherConfig, cfg));
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
        const r = await trainTeacher(cfg, { signal: ac.signal, device: `${dev.backend}: ${dev.name}` });
        console.log(`run folder: ${r.runDir}`);
        console.log(`teacher:    ${r.snapshots.at(-1) ?? '(none)'}`);
        console.log(`state:      ${r.statePath}`);
        if (r.stoppedEarly === 'interrupted') process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSig);
      }
    }),
  );
}
