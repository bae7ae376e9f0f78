/**
 * The models of a `toy:<name>` distillation, without Node APIs (the CLI's `setupToy` and the browser
 * playground both build them here): the analytic Gaussian mixture's exact denoiser is the teacher D_p
 * (src/data/gmm.ts); the generator is an MLP from a `latentDim`-dimensional standard normal; the fake
 * score D_φ is an EDM-preconditioned MLP denoiser trained from scratch (so a run needs `fakeWarmup`
 * fake-score steps before the first generator step, to fit the initial generator first).
 */
import { random } from '@jax-js/jax';
import { precondition } from '../edm/precond.js';
import { TOYS } from '../data/toy2d.js';
import type { GaussianMixture } from '../data/gmm.js';
import { initMlp, mlpNet, type MlpConfig } from '../nets/mlp.js';
import { initMlpGenerator, mlpGeneratorModel, type MlpGeneratorConfig } from '../nets/mlp-generator.js';
import { splitKeyList } from '../random/seeds.js';
import type { DistillConfig } from './config.js';
import type { Params } from './generator.js';
import type { DistillModels } from './steps.js';

/** Names of the toys that can be teachers (those with an exact score: the Gaussian mixtures). */
export const TOY_TEACHERS: string[] = Object.entries(TOYS)
  .filter(([, t]) => t.mixture)
  .map(([k]) => k);

export interface ToyModels {
  /** The toy's name, without `toy:`. */
  name: string;
  mixture: GaussianMixture;
  /** Teacher = the mixture's exact denoiser (no params), fake score and generator. */
  models: DistillModels;
  /** Initial generator params θ0 (the caller owns them). */
  theta0: Params;
  /** Initial fake-score params φ0 (the caller owns them). */
  phi0: Params;
  genConfig: MlpGeneratorConfig;
  fakeConfig: MlpConfig;
  /** Checkpoint metadata of the generator; enough to rebuild it. */
  generatorMeta: Record<string, unknown>;
}

/**
 * Builds the toy teacher, the MLP generator and the MLP fake score for `cfg.teacher = 'toy:<name>'`
 * (or a bare `<name>`), with params drawn from `cfg.seed`. One-line errors for an unknown toy or a toy
 * without an exact score.
 */
export function toyModels(
  cfg: Pick<DistillConfig, 'teacher' | 'mlpWidth' | 'mlpDepth' | 'sigmaData' | 'seed'> & Partial<Pick<DistillConfig, 'latentDim'>>,
  opts: { latentDim?: number } = {},
): ToyModels {
  const name = cfg.teacher.startsWith('toy:') ? cfg.teacher.slice('toy:'.length) : cfg.teacher;
  const toy = Object.hasOwn(TOYS, name) ? TOYS[name] : undefined;
  if (!toy) throw new Error(`unknown toy teacher 'toy:${name}': expected toy:<${Object.keys(TOYS).join('|')}>`);
  if (!toy.mixture) throw new Error(`toy '${name}' has no exact score (only Gaussian-mixture toys can be teachers): use one of ${TOY_TEACHERS.join(', ')}`);
  const genConfig: MlpGeneratorConfig = { latentDim: opts.latentDim ?? cfg.latentDim ?? 2, dim: 2, hidden: cfg.mlpWidth, layers: cfg.mlpDepth, labelDim: 0 };
  const fakeConfig: MlpConfig = { dim: 2, hidden: cfg.mlpWidth, layers: cfg.mlpDepth, embChannels: 32, labelDim: 0 };
  const generator = mlpGeneratorModel(genConfig);
  const fake = precondition('edm', (p, x, c, l, o) => mlpNet(fakeConfig, p, x, c, l, o), { sigmaData: cfg.sigmaData });
  const [kg, kf] = splitKeyList(random.key(cfg.seed), 2);
  return {
    name,
    mixture: toy.mixture,
    models: { teacher: toy.mixture.asDenoiser(), fake, generator },
    theta0: initMlpGenerator(kg, genConfig),
    phi0: initMlp(kf, fakeConfig),
    genConfig,
    fakeConfig,
    generatorMeta: { format: 'diff-instruct/generator@1', kind: 'generator', generator: 'mlp', generatorConfig: genConfig, teacher: `toy:${name}` },
  };
}
