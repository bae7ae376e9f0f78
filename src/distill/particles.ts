/**
 * Free particles as a generator: the Dirac special case of Diff-Instruct, under which the IKL gradient
 * is Score Distillation Sampling (DreamFusion; see docs/sds-as-diff-instruct.md). Each particle θ_k is
 * its own point mass q_θk = δ(x − θ_k); the params are one array `x` [N, D] of N particles, and the
 * "latent" of a sample is which particle it is, as a one-hot row [N] (a matmul picks it, so the
 * generator stays jit- and grad-safe: `jit(grad(np.take))` fails in jax-js 0.1.25).
 *
 * A batch of exactly N samples is every particle once, in order (so with `batch = N` every particle
 * gets its SDS update every step); other batch sizes draw particles uniformly with replacement. Image
 * seed k is particle k mod N.
 */
import { numpy as np, random, tree } from '@jax-js/jax';
import { keyForSeed } from '../random/seeds.js';
import type { GeneratorModel, Params } from './generator.js';
import { oneHot } from './generator.js';
import type { DistillModels } from './steps.js';

/** Key stream of the initial particle positions (distinct from the latent and label streams 0 and 1). */
const PARTICLE_STREAM = 7;

export interface ParticleConfig {
  /** Number of particles N. */
  count: number;
  /** Dimension D of each particle. */
  dim: number;
}

/** The particle set as a `GeneratorModel`: x = onehot(k) · params.x. */
export function particleGeneratorModel(cfg: ParticleConfig): GeneratorModel {
  const { count, dim } = cfg;
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(dim) && dim >= 1)) {
    throw new Error(`particles: count and dim must be positive integers, got ${JSON.stringify(cfg)}`);
  }
  return {
    kind: 'particles',
    latentShape: [count],
    outputShape: [dim],
    labelDim: 0,
    sampleLatent: (key, n) => {
      if (n === count) {
        key.dispose();
        return np.eye(count);
      }
      return oneHot(random.randint(key, { minval: 0, maxval: count, shape: [n] }), count);
    },
    latentForSeeds: (seeds) => oneHot(np.array(seeds.map((s) => s % count), { dtype: np.int32 }), count),
    apply: (params: Params, z, labels, opts) => {
      opts?.key?.dispose();
      labels?.dispose();
      const extra = Object.keys(params).filter((k) => k !== 'x');
      if (extra.length || !params.x) {
        for (const p of Object.values(params)) p.dispose();
        z.dispose();
        throw new Error(`particles: params must be exactly {x: [${count}, ${dim}]}, got {${Object.keys(params).join(', ')}}`);
      }
      return np.matmul(z, params.x);
    },
  };
}

/** N particles drawn iid from N(0, scale² I): params {x: [N, D]}. Consumes `key`. */
export function initParticles(key: np.Array, cfg: ParticleConfig, scale: number): Params {
  return { x: random.normal(key, [cfg.count, cfg.dim]).mul(scale) };
}

/**
 * Swaps the generator of a toy setup for `count` particles drawn from N(0, σ_init² I) (the one-step
 * generator's latent distribution), keeping the teacher and fake score: what `--loss sds` trains. Frees
 * the replaced generator params. The fake score stays in the models (the trainer's phases are built
 * for any loss) but loss 'sds' never reads or trains it.
 */
export function withParticles<T extends { models: DistillModels; theta0: Params; generatorMeta: Record<string, unknown> }>(
  toy: T,
  opts: { count: number; sigmaInit: number; seed: number },
): T {
  const cfg: ParticleConfig = { count: opts.count, dim: toy.models.generator.outputShape.reduce((a, b) => a * b, 1) };
  tree.dispose(toy.theta0);
  const generator = particleGeneratorModel(cfg);
  return {
    ...toy,
    models: { ...toy.models, generator },
    theta0: initParticles(keyForSeed(opts.seed, PARTICLE_STREAM), cfg, opts.sigmaInit),
    generatorMeta: { ...toy.generatorMeta, generator: generator.kind, generatorConfig: cfg },
  };
}
