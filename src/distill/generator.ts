/**
 * Generators: anything `(params, z, labels) → x` whose samples are differentiable in its params, with its
 * own latent distribution. Diff-Instruct needs nothing else from a student, so the same trainer distills
 * a teacher into a one-step denoiser, improves a GAN generator, or moves free particles (SDS).
 */
import { numpy as np, random } from '@jax-js/jax';
import type { Denoiser } from '../edm/precond.js';
import { normalForSeeds } from '../random/seeds.js';

export type Params = Record<string, np.Array>;

export interface GeneratorModel {
  /** Stored in checkpoint metadata; `loadGenerator` rebuilds the model from it. */
  kind: string;
  /** Shape of one latent z (without the batch axis). */
  latentShape: number[];
  /** Shape of one output sample; must equal the teacher's data shape. */
  outputShape: number[];
  /** Number of classes the generator is conditioned on (0 = unconditional). */
  labelDim: number;
  /** Latents for a batch of n, from an explicit key. Consumes `key`. */
  sampleLatent(key: np.Array, n: number): np.Array;
  /** Latents for image seeds: row k depends only on seeds[k] (EDM's per-image seeds). */
  latentForSeeds(seeds: number[]): np.Array;
  /** x = g(params, z, labels). Consumes every array argument. */
  apply(params: Params, z: np.Array, labels: np.Array | null, opts?: { key?: np.Array; train?: boolean }): np.Array;
}

/**
 * The paper's one-step generator for distilling an EDM teacher: the teacher's preconditioned denoiser
 * evaluated at one fixed σ_init, fed z ~ N(0, σ_init² I) (Diff-Instruct §4.1; the reference code uses
 * σ_init = 2.5 for CIFAR-10). Its params start as a copy of the teacher's.
 */
export function oneStepGenerator(denoiser: Denoiser, sigmaInit: number, dataShape: number[], labelDim: number): GeneratorModel {
  return {
    kind: 'edm-one-step',
    latentShape: dataShape,
    outputShape: dataShape,
    labelDim,
    sampleLatent: (key, n) => random.normal(key, [n, ...dataShape]).mul(sigmaInit),
    latentForSeeds: (seeds) => normalForSeeds(seeds, dataShape).mul(sigmaInit),
    apply: (params, z, labels, opts) => denoiser(params, z, np.full([z.shape[0]], sigmaInit), labels, opts),
  };
}

/**
 * The self-describing metadata of a one-step generator distilled from `teacher` (its checkpoint
 * metadata `teacherMeta`): the teacher's network and preconditioning plus σ_init, so `diff-instruct
 * sample` rebuilds the generator from the file alone. Trainers add kimg, step, loss and config.
 */
export function oneStepGeneratorMeta(teacherMeta: Record<string, any>, teacher: string, sigmaInit: number, dataShape: number[], labelDim: number): Record<string, unknown> {
  const [channels, resolution] = dataShape;
  return {
    format: 'diff-instruct/generator@1',
    kind: 'generator',
    generator: 'edm-one-step',
    sigmaInit,
    teacher,
    net: teacherMeta.net,
    netConfig: teacherMeta.netConfig,
    precond: teacherMeta.precond,
    sigmaData: teacherMeta.sigmaData,
    labelDim,
    resolution,
    channels,
    dataset: typeof teacherMeta.dataset === 'string' ? teacherMeta.dataset : undefined,
    cond: labelDim > 0,
  };
}

/** Uniform one-hot labels [n, labelDim] from a key (data-free: the generator's labels are drawn, not read). */
export function sampleLabels(key: np.Array, n: number, labelDim: number): np.Array {
  const y = random.randint(key, { minval: 0, maxval: labelDim, shape: [n] });
  return oneHot(y, labelDim);
}

/** One-hot float32 [n, k] from int labels [n] (a comparison, so it is jit- and grad-safe). */
export function oneHot(y: np.Array, k: number): np.Array {
  return np.equal(y.reshape([-1, 1]), np.arange(k).reshape([1, k])).astype(np.float32);
}
