/** `diff-instruct bench`: throughput and a kernel profile of the standard U-Net; JSON to benchmarks/results/. */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { runBench, type BenchOptions } from '../../bench/bench.js';
import { SONG_UNET_PRESETS, type SongUNetPreset } from '../../nets/song-unet.js';
import { action, addDeviceOption, useDevice } from '../common.js';

const PARTS = ['teacher', 'distill', 'sample', 'profile', 'phases'] as const;
/** 'phases' (five more compilations) runs only when asked for. */
const DEFAULT_PARTS = PARTS.filter((p) => p !== 'phases');

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('measure teacher-step, Diff-Instruct-iteration and sampling throughput of the standard U-Net, with a kernel profile')
    .option('--preset <name>', `SongUNet preset (${Object.keys(SONG_UNET_PRESETS).join(', ')})`, 'fmnist-base')
    .option('--batch <n>', 'images per step', '128')
    .option('--repeats <n>', 'timed repeats (median reported)', '10')
    .option('--label-dim <n>', 'classes (0: unconditional)', '10')
    .option('--parts <list>', `comma list of ${PARTS.join(',')}`, DEFAULT_PARTS.join(','))
    .option('--out <dir>', 'folder for the JSON result', 'benchmarks/results')
    .option('--tag <name>', 'file name tag (default: the device backend and adapter)');
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, string>) => {
      const preset = opts.preset as SongUNetPreset;
      if (!(preset in SONG_UNET_PRESETS)) throw new Error(`unknown preset '${preset}' (known: ${Object.keys(SONG_UNET_PRESETS).join(', ')})`);
      const parts = opts.parts.split(',').map((s) => s.trim());
      for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`unknown bench part '${p}' (known: ${PARTS.join(', ')})`);
      const num = (k: string) => {
        const v = Number(opts[k]);
        if (!Number.isInteger(v) || v < 0) throw new Error(`--${k}: expected a non-negative integer, got '${opts[k]}'`);
        return v;
      };
      const dev = await useDevice(opts.device);
      const o: BenchOptions = { preset, batch: num('batch'), repeats: Math.max(1, num('repeats')), labelDim: num('labelDim'), parts: parts as BenchOptions['parts'] };
      const r = await runBench(o, dev, (s) => console.log(s));
      mkdirSync(opts.out, { recursive: true });
      const tag = (opts.tag ?? `${dev.backend}-${dev.name}`).replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
      const file = join(opts.out, `${r.date.slice(0, 10)}-${tag}-${preset}-b${o.batch}.json`);
      writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
      if (r.profile) {
        console.log('top kernel classes of one teacher step:');
        for (const c of r.profile.classes.slice(0, 12)) console.log(`  ${c.totalMs.toFixed(2).padStart(8)} ms  ×${String(c.count).padEnd(4)} ${c.kind}`);
      }
      console.log(`wrote ${file}`);
    }),
  );
}
