/**
 * `diff-instruct study2d`: IKL versus single-σ KL versus SDS on 2-D toy pairs with disjoint supports
 * (src/study/study2d.ts); writes the figures of docs/ikl-vs-kl.md and a JSON summary.
 */
import type { Command } from 'commander';
import { addConfigOptions, configFromOptions } from '../../config/config.js';
import { toy2dMetrics } from '../../metrics/toy2d.js';
import { runStudy2d, Study2dConfig } from '../../study/study2d.js';
import { action, addDeviceOption, dryRun, useDevice } from '../common.js';

export function register(program: Command): void {
  const cmd = program
    .command('study2d')
    .description('IKL vs KL vs SDS on 2-D toys with disjoint supports: sample pictures, MMD / sliced-Wasserstein / modes curves, JSON summary');
  addConfigOptions(cmd, Study2dConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(Study2dConfig, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device);
        return;
      }
      await useDevice(opts.device as string);
      const t0 = Date.now();
      const { files } = await runStudy2d(cfg, toy2dMetrics, (s) => console.log(s));
      for (const f of files) console.log(`wrote ${f}`);
      console.log(`study2d done in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    }),
  );
}
