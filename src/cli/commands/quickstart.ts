/**
 * `diff-instruct quickstart` (what `npm start` runs): Diff-Instruct distillation of the shipped
 * class-conditional Fashion-MNIST teacher (models/fmnist-cond) into a one-step generator on the best
 * device here, with a preset sized for that device, then what changed against the initial generator:
 *  - gpu (a hardware WebGPU adapter): configs/quickstart-fmnist-gpu.json, the recipe of the shipped
 *    generator (models/README.md), whose run took 8 min 14 s on a shared H200;
 *  - cpu (otherwise: Wasm): configs/quickstart-fmnist-cpu.json, batch 4 and a few hundred generator
 *    images, sized to finish in under 10 minutes on 2 CPU cores (one U-Net iteration takes seconds there).
 * `--preset` overrides the choice; `--config <file>` runs a `distill` config of your own instead (the
 * preset files are examples), with the same summary at the end; `--resume <run folder>` continues a
 * stopped quick start (as `distill --resume`) and ends with the same summary, from the run's first metrics.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { configsDir } from '../../io/models-dir.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { configFromOptions } from '../../config/config.js';
import { checkDenoiserFile } from '../../teacher/load.js';
import { DistillConfig } from '../../distill/config.js';
import { buildSetup } from '../../distill/build.js';
import { action, addDeviceOption, dryRun, useDevice } from '../common.js';
import { resumeDistillConfig } from '../../distill/trainer.js';
import { runDistillCommand } from './distill.js';

const PRESETS = ['auto', 'gpu', 'cpu'] as const;

/** "fd 288.6 → 120.3, classAcc 0.415 → 0.62" for the keys both rows have. */
function change(first: Record<string, number>, last: Record<string, number>, keys: string[]): string {
  return keys
    .filter((k) => Number.isFinite(first[k]) && Number.isFinite(last[k]))
    .map((k) => `${k} ${first[k].toPrecision(4)} → ${last[k].toPrecision(4)}`)
    .join(', ');
}

/** The metrics rows of a run's stats.jsonl (none when it cannot be read). */
function metricRows(runDir: string): Record<string, number>[] {
  try {
    return readFileSync(join(runDir, 'stats.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((row) => row.kind === 'metrics');
  } catch {
    return [];
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('quickstart')
    .description('distill the shipped Fashion-MNIST teacher into a one-step generator with a preset for this device (npm start)')
    .option(`--preset <${PRESETS.join('|')}>`, 'configs/quickstart-fmnist-<preset>.json; auto: gpu on a hardware WebGPU adapter, else cpu (default: auto)')
    .option('--config <file>', 'a distill config (JSON) to run instead of the preset, e.g. an edited copy of configs/quickstart-fmnist-cpu.json')
    .option('--outdir <dir>', 'parent folder of run folders (default: runs)')
    .option('--resume <run>', 'continue a stopped quick start: its run folder (or one of its training-state files)')
    .option('--dry-run', 'check the inputs, print the resolved config as JSON (a file for --config) and exit');
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: { preset?: string; config?: string; outdir?: string; resume?: string; dryRun?: boolean; device?: string }) => {
      if (opts.preset && opts.config) throw new Error('--preset and --config both name the config to run: give one');
      if (opts.resume !== undefined && (opts.preset || opts.config || opts.outdir)) throw new Error(`--resume continues the run's own config and folder: give it without --${opts.preset ? 'preset' : opts.config ? 'config' : 'outdir'}`);
      opts.preset ??= 'auto';
      opts.outdir ??= 'runs';
      if (!(PRESETS as readonly string[]).includes(opts.preset)) throw new Error(`unknown preset '${opts.preset}' (known: ${PRESETS.join(', ')})`);
      const dev = await useDevice(opts.device, true); // said once, below and by distill
      const preset = opts.preset !== 'auto' ? opts.preset : dev.backend === 'webgpu' && !dev.software ? 'gpu' : 'cpu';
      const file = opts.config ?? join(configsDir(), `quickstart-fmnist-${preset}.json`);
      const cfg = opts.resume !== undefined ? resumeDistillConfig(opts.resume) : configFromOptions(DistillConfig, { config: file, outdir: opts.outdir });
      // on stderr with --dry-run, whose stdout is the config alone (as JSON for --config)
      const what = opts.resume !== undefined ? `resuming ${opts.resume}` : `${opts.config ? 'config' : `preset '${preset}'`} (${file})`;
      (opts.dryRun ? console.error : console.log)(`quickstart: ${what} on ${dev.backend}: ${dev.name}`);
      if (opts.dryRun) {
        dryRun(cfg, opts.device, [() => checkDenoiserFile(cfg.teacher, ['teacher'])]);
        return;
      }
      const r = await runDistillCommand(cfg, opts.device, () => buildSetup(cfg), 'quickstart');
      if (r.stopReason) return;
      // grids by kimg (run-dir.ts gridName: fakes-000000.png, fakes-000000.128.png, …, fakes-000012.png)
      const kimgOf = (f: string) => Number(f.slice('fakes-'.length, -'.png'.length));
      const grids = existsSync(r.runDir) ? readdirSync(r.runDir).filter((f) => /^fakes-\d{6}(\.\d{3})?\.png$/.test(f)).sort((a, b) => kimgOf(a) - kimgOf(b)) : [];
      if (grids.length) console.log(`samples:    ${join(r.runDir, grids[0])} (initial generator) … ${join(r.runDir, grids.at(-1)!)} (last)`);
      console.log(`curves:     ${join(r.runDir, 'metrics.svg')}; every number in ${join(r.runDir, 'stats.jsonl')}`);
      // a resumed run's result holds the metrics since it resumed: the first row is in stats.jsonl
      const rows = metricRows(r.runDir);
      const first = rows[0] ?? r.metrics[0], last = r.metrics.at(-1) ?? rows.at(-1);
      if (first && last && last !== first) {
        console.log(`measured (n ${last.n}, ${r.kimg.toFixed(2)} kimg of generator images): ${change(first, last, ['fd', 'kid', 'precision', 'recall', 'classAcc'])}`);
      }
    }),
  );
}
