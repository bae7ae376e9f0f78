/**
 * Pictures and metrics of any `GeneratorModel` during training (GAN training and refinement share them):
 * the fixed-seed grid (one row per class for conditional generators) and FD/KID/precision/recall/IS with
 * the project's classifier (src/metrics/evaluate.ts) when its files exist. Both sample through
 * `generateImages`, the code path of `diff-instruct sample`.
 */
import { tree } from '@jax-js/jax';
import { existsSync } from 'node:fs';
import type { GeneratorModel, Params } from '../distill/generator.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeGridPng } from '../io/png.js';
import type { RunDir } from '../run/run-dir.js';
import { classesForSeeds, generateImages, type Network } from '../teacher/generate.js';

/** A generator model with (borrowed) params as a `Network`, for `generateImages`. */
export function asGeneratorNetwork(model: GeneratorModel, params: Params, meta: Record<string, unknown> = {}): Network {
  return { kind: 'generator', path: '(training)', params, meta: meta as Network['meta'], generator: model, dataShape: model.outputShape, labelDim: model.labelDim };
}

/** Samples of `seeds` (host floats, NCHW), classes given or drawn per seed. Consumes `params`. */
export async function sampleSeeds(model: GeneratorModel, params: Params, seeds: number[], classes: ArrayLike<number> | null, batchSize = 250): Promise<Float32Array> {
  try {
    const x = await generateImages(asGeneratorNetwork(model, params), seeds, { classes: classes ? Array.from(classes) : null, batchSize });
    return (await x.data()) as Float32Array;
  } finally {
    tree.dispose(params);
  }
}

/** Grid layout of `seeds`: columns, and for conditional models the class of each cell (class c fills row c). */
export function gridLayout(seeds: number[], labelDim: number): { cols: number; classes: Int32Array | null } {
  const cols = labelDim > 0 ? Math.max(1, Math.ceil(seeds.length / labelDim)) : Math.ceil(Math.sqrt(seeds.length));
  return { cols, classes: labelDim > 0 ? Int32Array.from(seeds, (_, i) => Math.floor(i / cols) % labelDim) : null };
}

/**
 * Writes the grid of `seeds` to `run/<name>` and TensorBoard (`tag`, at `kimg`), sampling `batchSize`
 * at a time (trainers pass their training batch: on Wasm every new buffer size costs memory for good,
 * see docs/ARCHITECTURE.md). Consumes `params`.
 */
export async function writeGrid(model: GeneratorModel, params: Params, seeds: number[], run: RunDir, name: string, tag: string, kimg: number, batchSize = 250): Promise<void> {
  const { cols, classes } = gridLayout(seeds, model.labelDim);
  const data = await sampleSeeds(model, params, seeds, classes, batchSize);
  const [c, h, w] = model.outputShape;
  const { png, width, height, channels } = encodeGridPng({ data, n: seeds.length, c, h, w }, { cols });
  writeFileAtomic(run.file(name), png);
  run.tb.image(tag, png, height, width, channels, Math.round(kimg * 1000));
}

export type GeneratorEvaluate = (params: Params, n: number) => Promise<Record<string, number>>;

/**
 * The snapshot metrics of a generator on `dataset`'s reference statistics: n samples from seeds
 * 0..n−1 with per-seed classes (as `diff-instruct sample` draws them), `batchSize` at a time. Undefined (with the reason in
 * `why`) when there is no dataset or the classifier / reference files are missing.
 */
export async function generatorEvaluator(model: GeneratorModel, dataset: string | undefined, batchSize = 250): Promise<{ evaluate?: GeneratorEvaluate; why?: string }> {
  if (!dataset) return { why: 'no dataset in the metadata' };
  let mod: typeof import('../metrics/evaluate.js');
  let paths: string[];
  try {
    mod = await import('../metrics/evaluate.js');
    const { defaultClassifierPath } = await import('../metrics/train-classifier.js');
    const { defaultReferencePath } = await import('../metrics/reference.js');
    paths = [defaultClassifierPath(dataset), defaultReferencePath(dataset)];
  } catch (e) {
    return { why: (e as Error).message.split('\n')[0] };
  }
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length) return { why: `missing ${missing.join(', ')} (diff-instruct train-classifier writes them)` };
  const evaluate: GeneratorEvaluate = async (params, n) => {
    const seeds = Array.from({ length: n }, (_, i) => i);
    const labels = model.labelDim > 0 ? await classesForSeeds(seeds, model.labelDim) : null;
    const images = await sampleSeeds(model, params, seeds, labels, batchSize);
    const r = await mod.evaluateImages(images, { dataset, labels: labels ?? undefined });
    return Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  };
  return { evaluate };
}
