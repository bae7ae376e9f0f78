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
import { jit, numpy as np, tree, type OwnedFunction } from '@jax-js/jax';
import { edmSampleSeeds, type ChurnOptions, type Solver } from '../edm/sampler.js';
import { karrasSigmas } from '../edm/schedule.js';
import type { Denoiser } from '../edm/precond.js';
import type { Params } from '../nets/layers.js';
import { uniformIntForSeeds } from '../random/seeds.js';
import { oneStepGenerator, type GeneratorModel } from '../distill/generator.js';
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

/** Class index of each seed: given (one for all or per seed) or drawn from the seed's label stream. */
export async function classesForSeeds(seeds: readonly number[], labelDim: number, classes?: number | readonly number[] | null): Promise<Int32Array> {
  if (labelDim <= 0) {
    if (classes !== undefined && classes !== null) throw new Error('class labels given, but the network is unconditional');
    return new Int32Array(seeds.length);
  }
  const check = (c: number) => {
    if (!Number.isInteger(c) || c < 0 || c >= labelDim) throw new Error(`class ${c} is out of range: the network has ${labelDim} classes (0-${labelDim - 1})`);
    return c;
  };
  if (typeof classes === 'number') return new Int32Array(seeds.length).fill(check(classes));
  if (classes) {
    if (classes.length !== seeds.length) throw new Error(`${classes.length} classes given for ${seeds.length} seeds`);
    return Int32Array.from(classes, check);
  }
  return (await uniformIntForSeeds(seeds, labelDim).data()) as Int32Array;
}

/** One-hot [N, C] float32 of class indices. */
export function oneHotLabels(classes: ArrayLike<number>, labelDim: number): np.Array {
  const buf = new Float32Array(classes.length * labelDim);
  for (let i = 0; i < classes.length; i++) buf[i * labelDim + classes[i]] = 1;
  return np.array(buf, { shape: [classes.length, labelDim] });
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

// jit rejects null arguments: labels travel as a list of zero or one arrays.
const applyCache = new WeakMap<GeneratorModel, OwnedFunction<(p: Params, z: np.Array, l: np.Array[]) => np.Array>>();

function jittedApply(model: GeneratorModel) {
  let f = applyCache.get(model);
  if (!f) {
    f = jit((p: Params, z: np.Array, l: np.Array[]) => model.apply(p, z, l[0] ?? null, { train: false }));
    applyCache.set(model, f);
  }
  return f;
}

/**
 * One sample per seed from a generator model, x_k = g(params, z(seeds[k]), labels_k), in fixed-size
 * batches (the last one padded, so no new shape compiles). `labelsFor` gives the one-hot labels of a
 * batch of seeds (null: unconditional). Does not consume `params`.
 */
export async function generateFromModel(
  model: GeneratorModel,
  params: Params,
  seeds: readonly number[],
  labelsFor: ((batch: number[]) => np.Array) | null,
  opts: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<np.Array> {
  const f = jittedApply(model);
  const bs = Math.max(1, Math.min(opts.batchSize ?? 64, seeds.length));
  const outs: np.Array[] = [];
  for (let start = 0; start < seeds.length; start += bs) {
    const real = seeds.slice(start, start + bs);
    const batch = [...real];
    while (batch.length < bs) batch.push(real[real.length - 1]); // pad: no new shape to compile
    const labels = labelsFor ? [labelsFor(batch)] : [];
    let x = await f(tree.ref(params), model.latentForSeeds(batch), labels).blockUntilReady();
    if (real.length < bs) x = x.slice([0, real.length]);
    outs.push(x);
    opts.onBatch?.(start + real.length, seeds.length);
  }
  return outs.length === 1 ? outs[0] : np.concatenate(outs, 0);
}

/**
 * One sample per seed, [seeds.length, ...dataShape] (NCHW in [-1, 1] for images; not clipped).
 * Does not consume `network`.
 */
export async function generateImages(network: Network, seeds: readonly number[], opts: GenerateOptions = {}): Promise<np.Array> {
  if (seeds.length === 0) throw new Error('generateImages: no seeds');
  const cls = await classesForSeeds(seeds, network.labelDim, opts.classes);
  const classOf = new Map<number, number>();
  seeds.forEach((s, i) => classOf.set(s, cls[i]));
  const labelsFor = network.labelDim > 0 ? (batch: number[]) => oneHotLabels(batch.map((s) => classOf.get(s)!), network.labelDim) : null;
  if (classOf.size !== seeds.length && opts.classes && typeof opts.classes !== 'number') {
    // Per-seed classes are looked up by seed, so a repeated seed must ask for one class.
    seeds.forEach((s, i) => {
      if (classOf.get(s) !== cls[i]) throw new Error(`seed ${s} is listed twice with different classes`);
    });
  }
  if (network.kind === 'teacher') {
    if (!network.denoiser) throw new Error(`'${network.path}': teacher has no denoiser`);
    const sigmas = karrasSigmas(opts.steps ?? 18, opts.sigmaMin ?? 0.002, opts.sigmaMax ?? 80, opts.rho ?? 7);
    return edmSampleSeeds(network.denoiser, tree.ref(network.params), seeds, network.dataShape, sigmas, labelsFor, {
      solver: opts.solver ?? 'heun',
      churn: opts.churn,
      batchSize: opts.batchSize,
      onBatch: opts.onBatch,
    });
  }
  return generateFromModel(generatorOf(network), network.params, seeds, labelsFor, { batchSize: opts.batchSize, onBatch: opts.onBatch });
}
