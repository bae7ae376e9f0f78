/**
 * Generating samples from any self-describing network checkpoint, one image per seed (EDM generate.py):
 *  - kind 'teacher': EDM's sampler (Algorithm 2, src/edm/sampler.ts) over Karras σ (Eq. 5);
 *  - kind 'generator' (a Diff-Instruct one-step generator: the teacher's denoiser at a fixed σ_init,
 *    Luo et al. 2023 §4.1): one evaluation x = D(σ_init·z; σ_init), z ~ N(0, I) per seed.
 * Labels are drawn per seed (its label stream) unless classes are given, so image k never depends on
 * the batch. The metrics and distillation code call `generateImages`.
 */
import { jit, numpy as np, tree, type OwnedFunction } from '@jax-js/jax';
import { edmSampleSeeds, type ChurnOptions, type Solver } from '../edm/sampler.js';
import { karrasSigmas } from '../edm/schedule.js';
import type { Denoiser } from '../edm/precond.js';
import type { Params } from '../nets/layers.js';
import { normalForSeeds, uniformIntForSeeds } from '../random/seeds.js';
import { loadDenoiser, type DenoiserMeta } from './load.js';
import type { TeacherNet } from './net.js';

export type NetworkKind = 'teacher' | 'generator';

/** A loaded network of either kind; `params` stay owned by it (generateImages only takes refs). */
export interface Network {
  kind: NetworkKind;
  path: string;
  denoiser: Denoiser;
  params: Params;
  meta: DenoiserMeta;
  net: TeacherNet;
  /** Shape of one sample ([C, H, W] or [D]). */
  dataShape: number[];
  labelDim: number;
}

/** Loads a teacher or one-step generator checkpoint (file or shipped name). */
export async function loadNetwork(pathOrName: string): Promise<Network> {
  const d = await loadDenoiser(pathOrName, { kinds: ['teacher', 'generator'] });
  const kind = d.meta.kind as NetworkKind;
  if (kind === 'generator' && !(typeof d.meta.sigmaInit === 'number' && d.meta.sigmaInit > 0)) {
    tree.dispose(d.params);
    throw new Error(`'${d.path}': generator metadata has no positive 'sigmaInit'`);
  }
  return { kind, path: d.path, denoiser: d.denoiser, params: d.params, meta: d.meta, net: d.net, dataShape: d.net.dataShape, labelDim: d.net.labelDim };
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

const oneStepCache = new WeakMap<Denoiser, OwnedFunction<(p: Params, z: np.Array, s: np.Array, l: np.Array[]) => np.Array>>();

function oneStep(denoiser: Denoiser) {
  let f = oneStepCache.get(denoiser);
  if (!f) {
    f = jit((p: Params, z: np.Array, s: np.Array, l: np.Array[]) => denoiser(p, z, np.broadcastTo(s, [z.shape[0]]), l[0] ?? null));
    oneStepCache.set(denoiser, f);
  }
  return f;
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
    const sigmas = karrasSigmas(opts.steps ?? 18, opts.sigmaMin ?? 0.002, opts.sigmaMax ?? 80, opts.rho ?? 7);
    return edmSampleSeeds(network.denoiser, tree.ref(network.params), seeds, network.dataShape, sigmas, labelsFor, {
      solver: opts.solver ?? 'heun',
      churn: opts.churn,
      batchSize: opts.batchSize,
      onBatch: opts.onBatch,
    });
  }
  const sigmaInit = network.meta.sigmaInit!;
  const f = oneStep(network.denoiser);
  const bs = Math.max(1, Math.min(opts.batchSize ?? 64, seeds.length));
  const outs: np.Array[] = [];
  for (let start = 0; start < seeds.length; start += bs) {
    const real = seeds.slice(start, start + bs);
    const batch = [...real];
    while (batch.length < bs) batch.push(real[real.length - 1]); // pad: no new shape to compile
    const z = normalForSeeds(batch, network.dataShape).mul(sigmaInit);
    const labels = labelsFor ? [labelsFor(batch)] : [];
    let x = await f(tree.ref(network.params), z, np.array(sigmaInit), labels).blockUntilReady();
    if (real.length < bs) x = x.slice([0, real.length]);
    outs.push(x);
    opts.onBatch?.(start + real.length, seeds.length);
  }
  return outs.length === 1 ? outs[0] : np.concatenate(outs, 0);
}
