/** `diff-instruct bench`: throughput and a kernel profile of the standard U-Net; JSON to benchmarks/results/. */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { runBench, type BenchOptions } from '../../bench/bench.js';
import { SONG_UNET_PRESETS } from '../../nets/song-unet.js';
import { EDM_PRESET_NAMES } from '../../nets/edm-presets.js';
import { z } from 'zod';
import { addConfigOptions, configFromOptions } from '../../config/config.js';
import { action, addDeviceOption, dryRun, useDevice } from '../common.js';

const PARTS = ['teacher', 'distill', 'sample', 'profile', 'phases', 'verify'] as const;
/** 'phases' (five more compilations) and 'verify' (executor against the stock path) run only when asked for. */
const DEFAULT_PARTS = PARTS.filter((p) => p !== 'phases' && p !== 'verify');

export const BenchConfig = z.object({
  preset: z.enum([...(Object.keys(SONG_UNET_PRESETS) as (keyof typeof SONG_UNET_PRESETS)[]), ...EDM_PRESET_NAMES]).default('fmnist-base').describe(`network: a 28×28×1 SongUNet preset (${Object.keys(SONG_UNET_PRESETS).join(', ')}) or EDM's ${EDM_PRESET_NAMES.join(' / ')} (32×32×3 DDPM++ ≈56M params / 64×64×3 ADM)`),
  labelDim: z.number().int().min(0).optional().describe('classes (0: unconditional; default 10, or 1000 for edm-imagenet64)'),
  batch: z.number().int().positive().default(128).describe('images per step'),
  repeats: z.number().int().positive().default(10).describe('timed repeats (median reported)'),
  parts: z.array(z.enum(PARTS)).default([...DEFAULT_PARTS]).describe(`comma list of ${PARTS.join(',')} ('phases' adds five compilations, 'verify' compares the step executor with jax-js's stock dispatch: only when asked)`),
  outdir: z.string().default('benchmarks/results').describe('folder for the JSON result'),
  tag: z.string().default('').describe('file name tag (default: the device backend and adapter)'),
});
export type BenchConfig = z.infer<typeof BenchConfig>;

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('measure teacher-step, Diff-Instruct-iteration and sampling throughput of the standard U-Net, with a kernel profile');
  addConfigOptions(cmd, BenchConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(BenchConfig, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device);
        return;
      }
      const dev = await useDevice(opts.device as string | undefined);
      const o: BenchOptions = { preset: cfg.preset, batch: cfg.batch, repeats: cfg.repeats, labelDim: cfg.labelDim ?? (cfg.preset === 'edm-imagenet64' ? 1000 : 10), parts: cfg.parts as BenchOptions['parts'] };
      const r = await runBench(o, dev, (s) => console.log(s));
      mkdirSync(cfg.outdir, { recursive: true });
      const tag = (cfg.tag || `${dev.backend}-${dev.name}`).replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
      const file = join(cfg.outdir, `${r.date.slice(0, 10)}-${tag}-${cfg.preset}-b${o.batch}.json`);
      writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
      if (r.profile) {
        console.log('top kernel classes of one teacher step:');
        for (const c of r.profile.classes.slice(0, 12)) console.log(`  ${c.totalMs.toFixed(2).padStart(8)} ms  ×${String(c.count).padEnd(4)} ${c.kind}`);
      }
      console.log(`wrote ${file}`);
    }),
  );
}
