/**
 * `diff-instruct eval`: image metrics (FD-FMNIST / FD-MNIST, KID, precision/recall, IS analogue, class
 * accuracy; src/metrics/evaluate.ts) of a PNG folder or of samples drawn from a teacher / one-step
 * generator checkpoint, printed as one JSON object and optionally appended to
 * `<run>/metric-<name>.jsonl` (EDM's metric-*.jsonl habit).
 *
 * `diff-instruct eval ref`: recomputes a dataset split's reference statistics
 * (models/ref-<fmnist|mnist>-<split>.safetensors) with the current classifier.
 */
import { readMeta } from '../../io/params.js';
import type { Command } from 'commander';
import { tree } from '@jax-js/jax';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { addConfigOptions, configFromOptions, defaultsNotGiven, describeValues } from '../../config/config.js';
import { resolveNetworkPath } from '../../teacher/load.js';
import { DATASETS } from '../../data/images.js';
import { appendLine } from '../../io/atomic.js';
import { readPngFolder } from '../../io/png.js';
import { parseSeeds } from '../../random/seeds.js';
import { loadClassifier } from '../../metrics/classifier-file.js';
import { createImageEvaluator, type ImageMetrics } from '../../metrics/evaluate.js';
import { computeReferenceStats, defaultReferencePath, saveReferenceStats } from '../../metrics/reference.js';
import { defaultClassifierPath } from '../../metrics/train-classifier.js';
import { activeDevice } from '../../platform/devices.js';
import { action, addDeviceOption, dryRun, useDevice, withBatchThatFits } from '../common.js';

export const EvalSchema = z.object({
  images: z.string().default('').describe('folder of PNG images to evaluate (one of --images / --network)'),
  network: z.string().default('').describe('teacher or one-step generator checkpoint to sample from, one image per seed'),
  seeds: z.string().default('0-9999').describe('image seeds for --network (e.g. 0-9999)'),
  steps: z.number().int().positive().default(18).describe('sampler steps when --network is a teacher'),
  batch: z.number().int().positive().default(250).describe('images per network call for --network'),
  dataset: z.string().default('').describe(`reference dataset (${DATASETS.join('|')}); default: the checkpoint's dataset`),
  classifier: z.string().default('').describe('classifier file (default models/classifier-<fmnist|mnist>.safetensors)'),
  ref: z.string().default('').describe('reference statistics (default models/ref-<fmnist|mnist>-test.safetensors)'),
  run: z.string().default('').describe('run folder: append the result as one line to <run>/metric-<name>.jsonl'),
  kidSubsets: z.number().int().positive().default(100).describe('KID subsets'),
  kidSubsetSize: z.number().int().min(2).default(1000).describe('KID subset size (capped by the number of images)'),
});
export type EvalConfig = z.infer<typeof EvalSchema>;

/**
 * `eval --network` defaults on WebAssembly (a CPU), used where the user gives no value: batch 250 does
 * not fit in Wasm's 4 GiB for the shipped U-Nets (every CPU eval respawned twice, down to 63); batch 64
 * fits (3.4 GB). 200 seeds, as the CPU quick start and distill's Wasm defaults score: 1,000 one-step
 * images took 1,648 s on the shared 2-core machine at load 16 (benchmarks/cpu-runs/eval-wasm/), so 200
 * take about a fifth of that there, less on an idle machine.
 */
export const WASM_EVAL_DEFAULTS = { batch: 64, seeds: '0-199' } as const;

export const EvalRefSchema = z.object({
  dataset: z.enum(DATASETS).default('fashion-mnist').describe('dataset whose split is summarised'),
  split: z.enum(['test', 'train']).default('test').describe('dataset split'),
  classifier: z.string().default('').describe('classifier file (default models/classifier-<fmnist|mnist>.safetensors)'),
  out: z.string().default('').describe('output file (default models/ref-<fmnist|mnist>-<split>.safetensors)'),
  limit: z.number().int().nonnegative().default(0).describe('use only the first N images of the split (0 = all)'),
  maxFeatures: z.number().int().min(2).default(10000).describe('raw feature rows stored for KID and precision/recall'),
});

function checkDataset(name: string, where: string): string {
  if (!(DATASETS as readonly string[]).includes(name)) throw new Error(`${where}: unknown dataset '${name}': expected one of ${DATASETS.join(', ')}`);
  return name;
}

/** `<run>/metric-<fd-fmnist-10k>.jsonl`: the metric and sample count, EDM's `fid50k_full` naming habit. */
export function metricFileName(m: ImageMetrics): string {
  const count = m.n % 1000 === 0 ? `${m.n / 1000}k` : String(m.n);
  return `metric-${m.metric.toLowerCase()}-${count}.jsonl`;
}

/** Runs `eval` for a resolved config; returns the JSON record it prints (and appends with --run). */
export async function evalCommand(cfg: EvalConfig): Promise<Record<string, unknown>> {
  if (!!cfg.images === !!cfg.network) throw new Error('give exactly one of --images <png folder> and --network <checkpoint>');
  if (cfg.run && !(existsSync(cfg.run) && statSync(cfg.run).isDirectory())) throw new Error(`run folder '${cfg.run}' does not exist`);
  let images: Float32Array;
  let labels: Int32Array | undefined;
  let dataset = cfg.dataset;
  let source: Record<string, unknown>;
  if (cfg.images) {
    if (!dataset) throw new Error('--images needs --dataset (fashion-mnist or mnist)');
    const b = readPngFolder(cfg.images);
    images = b.data;
    source = { images: cfg.images };
  } else {
    const seeds = parseSeeds(cfg.seeds);
    let gen: typeof import('../../teacher/generate.js');
    try {
      gen = await import('../../teacher/generate.js');
    } catch {
      throw new Error('evaluation of networks needs src/teacher/generate.ts');
    }
    const network = await gen.loadNetwork(cfg.network);
    try {
      dataset ||= String(network.meta.dataset ?? '');
      if (!dataset) throw new Error(`'${network.path}' does not name its dataset in its metadata: pass --dataset`);
      if (network.dataShape.length !== 3) throw new Error(`'${network.path}' is a ${network.dataShape.length}-D model; eval scores images`);
      const classes = network.labelDim > 0 ? await gen.classesForSeeds(seeds, network.labelDim) : null;
      const t = performance.now();
      const x = await gen.generateImages(network, seeds, { steps: cfg.steps, classes: classes ? Array.from(classes) : null, batchSize: cfg.batch });
      images = (await x.data()) as Float32Array;
      process.stderr.write(`generated ${seeds.length} images in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      labels = classes ?? undefined;
      source = { network: network.path, kind: network.kind, seeds: cfg.seeds, ...(network.kind === 'teacher' ? { steps: cfg.steps } : {}) };
    } finally {
      tree.dispose(network.params);
    }
  }
  checkDataset(dataset, 'eval');
  const ev = await createImageEvaluator(dataset, { classifierPath: cfg.classifier || undefined, referencePath: cfg.ref || undefined });
  let m: ImageMetrics;
  try {
    m = await ev.evaluate(images, { labels, kidSubsets: cfg.kidSubsets, kidSubsetSize: cfg.kidSubsetSize });
  } finally {
    ev.dispose();
  }
  const dev = activeDevice();
  const record = { ...m, ...source, device: dev ? dev.backend : undefined, timestamp: new Date().toISOString() };
  if (cfg.run) appendLine(join(cfg.run, metricFileName(m)), JSON.stringify(record));
  return record;
}

export function register(program: Command): void {
  // `eval` and `eval ref` share flag names (--dataset, --classifier): commander gives flags after `ref`
  // to `ref` only when every ancestor parses options positionally. The root has only --help/--version,
  // so this changes nothing for the other commands.
  program.enablePositionalOptions();
  const cmd = program
    .command('eval')
    .description('image metrics (FD-FMNIST/FD-MNIST with our classifier, KID, precision/recall, IS analogue, class accuracy) of a PNG folder or a network')
    .enablePositionalOptions();
  addConfigOptions(cmd, EvalSchema);
  addDeviceOption(cmd);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      let cfg = configFromOptions(EvalSchema, opts);
      const dev = await useDevice(opts.device as string | undefined, !!opts.dryRun);
      const under = dev.backend === 'wasm' && cfg.network ? defaultsNotGiven(EvalSchema, opts, WASM_EVAL_DEFAULTS) : {};
      const note = Object.keys(under).length ? `defaults on WebAssembly (CPU): ${describeValues(under)} (batch 250 does not fit in its 4 GiB, and 10,000 images take hours there; a flag or --config value overrides each)` : '';
      if (note) cfg = configFromOptions(EvalSchema, opts, under);
      // allowed (a cross-dataset score can be wanted), but never silently: said before any compute
      const own = cfg.network && cfg.dataset ? readMeta(resolveNetworkPath(cfg.network)).meta?.dataset : undefined;
      if (typeof own === 'string' && own !== cfg.dataset) process.stderr.write(`diff-instruct: warning: '${cfg.network}' was trained on ${own}; scoring it against ${cfg.dataset} measures how far apart the datasets are, not its quality\n`);
      if (opts.dryRun) {
        dryRun(cfg, opts.device, [() => cfg.network && resolveNetworkPath(cfg.network)], note);
        return;
      }
      if (note) process.stderr.write(note + '\n');
      const run = async () => console.log(JSON.stringify(await evalCommand(cfg)));
      await (cfg.network ? withBatchThatFits(cfg.batch, run) : run());
    }),
  );

  const ref = cmd.command('ref').description("recompute a dataset split's reference statistics (mu, sigma, features, k-NN radii) with the current classifier");
  addConfigOptions(ref, EvalRefSchema);
  addDeviceOption(ref);
  ref.action(
    action(async (opts: Record<string, unknown>) => {
      const cfg = configFromOptions(EvalRefSchema, opts);
      if (opts.dryRun) {
        dryRun(cfg, opts.device);
        return;
      }
      const info = await useDevice(opts.device as string | undefined);
      const t0 = performance.now();
      const clf = await loadClassifier(cfg.classifier || defaultClassifierPath(cfg.dataset));
      try {
        if (clf.meta.dataset !== cfg.dataset) throw new Error(`classifier '${clf.path}' was trained on '${clf.meta.dataset}', not '${cfg.dataset}'`);
        const stats = await computeReferenceStats(clf, cfg.dataset, cfg.split, { limit: cfg.limit || undefined, maxFeatures: cfg.maxFeatures });
        const out = cfg.out || defaultReferencePath(cfg.dataset, cfg.split);
        const seconds = (performance.now() - t0) / 1000;
        saveReferenceStats(out, stats, { device: `${info.backend}: ${info.name}`, seconds: Math.round(seconds), date: new Date().toISOString() });
        console.log(JSON.stringify({ out, dataset: cfg.dataset, split: cfg.split, count: stats.count, featureRows: stats.nFeatures, classifierSha256: clf.sha256, seconds }));
      } finally {
        tree.dispose(clf.params);
      }
    }),
  );
}
