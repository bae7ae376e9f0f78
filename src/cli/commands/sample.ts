/**
 * `diff-instruct sample`: images from a teacher (EDM sampler, Algorithm 2) or a one-step generator (EDM or GAN),
 * one per seed (EDM generate.py): `<outdir>/<seed>.png` and `<outdir>/grid.png`.
 */
import { checkFolderTarget } from '../../io/atomic.js';
import type { Command } from 'commander';
import { tree } from '@jax-js/jax';
import { join } from 'node:path';
import { z } from 'zod';
import { addConfigOptions, configFromOptions } from '../../config/config.js';
import { resolveNetworkPath } from '../../teacher/load.js';
import { evaluationsPerSample } from '../../edm/sampler.js';
import { saveImageGrid, saveImages, toImageBatch, type ImageBatch } from '../../io/png.js';
import { Progress } from '../../run/progress.js';
import { parseSeeds } from '../../random/seeds.js';
import { classesForSeeds, generateImages, loadNetwork } from '../../teacher/generate.js';
import { action, addDeviceOption, dryRun, useDevice, withBatchThatFits } from '../common.js';

export const SampleConfig = z.object({
  network: z.string().default('fmnist-cond').describe('teacher or generator: a .safetensors file or a shipped name (models/<name>.safetensors)'),
  seeds: z.string().default('0-63').describe('image seeds, e.g. 0-63,100 (image k depends only on its seed)'),
  steps: z.number().int().positive().default(18).describe('sampler steps for teachers (Heun: 2·steps−1 network evaluations; 18 → 35)'),
  solver: z.enum(['heun', 'euler']).default('heun').describe('ODE solver of the EDM sampler (teachers only)'),
  class: z.number().int().min(0).nullable().default(null).describe('class of every image (conditional networks; default: drawn per seed)'),
  sigmaMin: z.number().positive().default(0.002).describe('lowest noise level of the sampler (EDM sigma_min; teachers only)'),
  sigmaMax: z.number().positive().default(80).describe('highest noise level of the sampler (EDM sigma_max; teachers only)'),
  rho: z.number().positive().default(7).describe('time-step exponent of the Karras schedule (EDM rho; teachers only)'),
  sChurn: z.number().min(0).default(0).describe('stochasticity strength (EDM S_churn; 0: deterministic ODE; teachers only)'),
  sMin: z.number().min(0).default(0).describe('lowest σ that gets churn noise (EDM S_min)'),
  sMax: z.number().min(0).nullable().default(null).describe('highest σ that gets churn noise (EDM S_max; default: no limit)'),
  sNoise: z.number().positive().default(1).describe('churn noise scale (EDM S_noise)'),
  batch: z.number().int().positive().default(64).describe('images per network call'),
  outdir: z.string().default('out').describe('folder for <seed>.png and grid.png'),
  subdirs: z.boolean().default(false).describe('one subfolder per 1000 seeds, 000000/, 001000/, … (EDM generate.py --subdirs)'),
  classDirs: z.boolean().default(false).describe('one subfolder per class, class-0/, class-1/, … (conditional networks)'),
});
export type SampleConfig = z.infer<typeof SampleConfig>;

export function register(program: Command): void {
  const cmd = program.command('sample').description('generate images from a teacher (EDM Heun/Euler sampler) or a one-step generator: <seed>.png and grid.png');
  addConfigOptions(cmd, SampleConfig);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(SampleConfig, opts);
      // the output folder is checked first: a file in its place is an error before any image is computed
      const checks = [() => checkFolderTarget(cfg.outdir, '--outdir'), () => parseSeeds(cfg.seeds), () => resolveNetworkPath(cfg.network)];
      if (opts.dryRun) {
        dryRun(cfg, opts.device, checks);
        return;
      }
      for (const check of checks) check();
      const seeds = parseSeeds(cfg.seeds);
      await useDevice(opts.device as string);
      await withBatchThatFits(cfg.batch, () => sample(cfg, seeds));
    }),
  );
}

/** Samples `seeds` with the network of `cfg` and writes <seed>.png files and grid.png. */
async function sample(cfg: SampleConfig, seeds: number[]): Promise<void> {
  const network = await loadNetwork(cfg.network);
  try {
    if (network.dataShape.length !== 3) throw new Error(`'${network.path}' is a ${network.dataShape.length}-D model; sample writes images`);
    const what =
      network.kind === 'teacher'
        ? `${cfg.solver} sampler, ${cfg.steps} steps (${evaluationsPerSample(cfg.steps, cfg.solver)} evaluations per image)`
        : network.generator?.kind === 'dcgan'
          ? `GAN generator (dcgan, z ~ N(0, I_${network.generator.latentShape[0]}))`
          : `one-step generator at σ_init = ${network.meta.sigmaInit}`;
    process.stderr.write(`${network.path}: ${what}\n`);
    const bar = new Progress(seeds.length, 'sampling');
    let shown = 0;
    if (cfg.sigmaMin >= cfg.sigmaMax) throw new Error(`--sigma-min ${cfg.sigmaMin} must be below --sigma-max ${cfg.sigmaMax}`);
    if (cfg.classDirs && network.labelDim === 0) throw new Error(`--class-dirs: '${network.path}' is unconditional`);
    const classes = await classesForSeeds(seeds, network.labelDim, cfg.class);
    const x = await generateImages(network, seeds, {
      steps: cfg.steps,
      solver: cfg.solver,
      sigmaMin: cfg.sigmaMin,
      sigmaMax: cfg.sigmaMax,
      rho: cfg.rho,
      churn: { SChurn: cfg.sChurn, SMin: cfg.sMin, SMax: cfg.sMax ?? Infinity, SNoise: cfg.sNoise },
      classes: network.labelDim > 0 ? Array.from(classes) : null,
      batchSize: cfg.batch,
      onBatch: (done) => {
        bar.tick(done - shown);
        shown = done;
      },
    });
    bar.done();
    const images = await toImageBatch(x); // one read for both outputs
    x.dispose();
    const folderOf = (i: number) =>
      join(cfg.outdir, ...(cfg.classDirs ? [`class-${classes[i]}`] : []), ...(cfg.subdirs ? [String(seeds[i] - (seeds[i] % 1000)).padStart(6, '0')] : []));
    const files = await saveImagesInFolders(images, seeds, folderOf);
    await saveImageGrid(join(cfg.outdir, 'grid.png'), images, { cols: Math.ceil(Math.sqrt(seeds.length)) });
    console.log(`wrote ${files.length} images and grid.png to ${cfg.outdir}`);
  } finally {
    tree.dispose(network.params);
  }
}

/** Writes image i as <folderOf(i)>/<seed>.png: one saveImages call per folder. */
async function saveImagesInFolders(b: ImageBatch, seeds: number[], folderOf: (i: number) => string): Promise<string[]> {
  const groups = new Map<string, number[]>();
  seeds.forEach((_, i) => {
    const dir = folderOf(i);
    groups.set(dir, [...(groups.get(dir) ?? []), i]);
  });
  const size = b.c * b.h * b.w;
  const files: string[] = [];
  for (const [dir, idx] of groups) {
    const data = new Float32Array(idx.length * size);
    idx.forEach((i, j) => data.set(b.data.subarray(i * size, (i + 1) * size), j * size));
    files.push(...(await saveImages(dir, { ...b, data, n: idx.length }, idx.map((i) => seeds[i]))));
  }
  return files;
}
