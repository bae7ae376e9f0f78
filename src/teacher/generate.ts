/**
 * Generating samples from any self-describing network checkpoint, one image per seed (EDM generate.py):
 *  - kind 'teacher': EDM's sampler (Algorithm 2, src/edm/sampler.ts) over Karras σ (Eq. 5);
 *  - kind 'generator': one evaluation x = g(z_seed, label) of a `GeneratorModel` with its own latent
 *    (src/distill/generator.ts) — a Diff-Instruct one-step generator (the teacher's denoiser at a fixed
 *    σ_init, Luo et al. 2023 §4.1: x = D(σ_init·z; σ_init), z ~ N(0, I)) or a GAN generator
 *    (src/gan/generator.ts: x = G(z), z ~ N(0, I_zDim)); both sample through `generateFromModel`.
 * Labels are drawn per seed (its label stream) unless classes are given, so image k never depends on
 * the batch. The metrics and distillation code call `generateImages`.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { edmSampleSeeds, type ChurnOptions, type Solver } from '../edm/sampler.js';
import { karrasSigmas } from '../edm/schedule.js';
import type { Denoiser } from '../edm/precond.js';
import type { Params } from '../nets/layers.js';
import { oneStepGenerator, type GeneratorModel } from '../distill/generator.js';
import { classesForSeeds, generateFromModel, labelsForSeeds, oneHotLabels } from '../distill/sample.js';

export { classesForSeeds, generateFromModel, labelsForSeeds, oneHotLabels };
import { isGanGeneratorMeta, loadGanGenerator, type GanGeneratorMeta } from '../gan/generator.js';
import { readMeta } from '../io/params.js';
import { loadDenoiser, resolveNetworkPath, type DenoiserMeta } from './load.js';
import type { TeacherNet } from './net.js';

export type NetworkKind = 'teacher' | 'generator';

/** A loaded network of either kind; `params` stay owned by it (generateImages only takes refs). */
export interface Network {
  kind: NetworkKind;
  path: string;
  /** D(x; σ) of teachers and EDM one-step generators (GAN generators have none). */
  denoiser?: Denoiser;
  params: Params;
  meta: DenoiserMeta | GanGeneratorMeta;
  /** The raw network of teachers and EDM one-step generators. */
  net?: TeacherNet;
  /** Generators: latent → sample. EDM one-step generators may leave it out (built from `denoiser` and `meta.sigmaInit`). */
  generator?: GeneratorModel;
  /** Shape of one sample ([C, H, W] or [D]). */
  dataShape: number[];
  labelDim: number;
}

/** Loads a teacher, EDM one-step generator or GAN generator checkpoint (file or shipped name). */
export async function loadNetwork(pathOrName: string): Promise<Network> {
  const path = resolveNetworkPath(pathOrName);
  if (isGanGeneratorMeta(readMeta(path).meta)) {
    const g = await loadGanGenerator(path);
    return { kind: 'generator', path, params: g.params, meta: g.meta, generator: g.model, dataShape: g.model.outputShape, labelDim: g.model.labelDim };
  }
  const d = await loadDenoiser(path, { kinds: ['teacher', 'generator'] });
  const kind = d.meta.kind as NetworkKind;
  if (kind === 'generator' && !(typeof d.meta.sigmaInit === 'number' && d.meta.sigmaInit > 0)) {
    tree.dispose(d.params);
    throw new Error(`'${d.path}': generator metadata has no positive 'sigmaInit'`);
  }
  const network: Network = { kind, path: d.path, denoiser: d.denoiser, params: d.params, meta: d.meta, net: d.net, dataShape: d.net.dataShape, labelDim: d.net.labelDim };
  if (kind === 'generator') network.generator = generatorOf(network);
  return network;
}

export interface GenerateOptions {
  /** Sampler steps for teachers (Heun: 2·steps − 1 evaluations). Default 18. */
  steps?: number;
  solver?: Solver;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  churn?: Partial<ChurnOptions>;
  /** One class for all seeds, one class per seed, or null/undefined: drawn per seed. */
  classes?: number | readonly number[] | null;
  /** Images per network call. Default 64. */
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

// One model (hence one jitted apply) per (denoiser, σ_init), however often a trainer wraps its EMA params.
const oneStepModels = new WeakMap<Denoiser, Map<number, GeneratorModel>>();

/** The `GeneratorModel` of a generator network: its own, or the one-step model of its denoiser at σ_init. */
export function generatorOf(network: Network): GeneratorModel {
  if (network.generator) return network.generator;
  const sigmaInit = network.meta.sigmaInit;
  if (network.kind !== 'generator' || !network.denoiser || typeof sigmaInit !== 'number') throw new Error(`'${network.path}' is not a generator`);
  let bySigma = oneStepModels.get(network.denoiser);
  if (!bySigma) oneStepModels.set(network.denoiser, (bySigma = new Map()));
  let model = bySigma.get(sigmaInit);
  if (!model) bySigma.set(sigmaInit, (model = oneStepGenerator(network.denoiser, sigmaInit, network.dataShape, network.labelDim)));
  return model;
}

/**
 * One sample per seed, [seeds.length, ...dataShape] (NCHW in [-1, 1] for images; not clipped).
 * Does not consume `network`.
 */
export async function generateImages(network: Network, seeds: readonly number[], opts: GenerateOptions = {}): Promise<np.Array> {
  if (seeds.length === 0) throw new Error('generateImages: no seeds');
  const labelsFor = await labelsForSeeds(seeds, network.labelDim, opts.classes);
  if (network.kind === 'teacher') {
    if (!network.denoiser) throw new Error(`'${network.path}': teacher has no denoiser`);
    // As EDM's edm_sampler: the schedule is clamped to the σ range the network's wrapper supports
    // (converted EDM networks record it: VEPrecond's is [0.02, 100]).
    const m = network.meta as DenoiserMeta;
    const lo = typeof m.sigmaMin === 'number' ? m.sigmaMin : 0;
    const hi = typeof m.sigmaMax === 'number' ? m.sigmaMax : Infinity;
    const sigmas = karrasSigmas(opts.steps ?? 18, Math.max(opts.sigmaMin ?? 0.002, lo), Math.min(opts.sigmaMax ?? 80, hi), opts.rho ?? 7);
    return edmSampleSeeds(network.denoiser, tree.ref(network.params), seeds, network.dataShape, sigmas, labelsFor, {
      solver: opts.solver ?? 'heun',
      churn: opts.churn,
      batchSize: opts.batchSize,
      onBatch: opts.onBatch,
    });
  }
  return generateFromModel(generatorOf(network), network.params, seeds, labelsFor, { batchSize: opts.batchSize, onBatch: opts.onBatch });
}
