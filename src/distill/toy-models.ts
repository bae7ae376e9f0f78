/**
 * The models of a `toy:<name>` distillation, without Node APIs (the CLI's `setupToy` and the browser
 * playground both build them here): the analytic Gaussian mixture's exact denoiser is the teacher D_p
 * (src/data/gmm.ts); the generator is an MLP from a `latentDim`-dimensional normal of std `latentStd`. The fake
 * score D_φ is one of (`fakeInit`):
 *  - 'scratch': an EDM-preconditioned MLP denoiser trained from scratch (so a run needs `fakeWarmup`
 *    fake-score steps before the first generator step, to fit the initial generator first);
 *  - 'teacher': the teacher plus a learned residual,
 *    D_φ(x; σ) = D_p(x; σ) + c_out(σ)·R_φ(c_in(σ)·x; c_noise(σ)), with R_φ's last layer zero, so D_φ = D_p
 *    at step 0: the analytic-teacher counterpart of the paper's fake score initialised as a copy of the
 *    teacher (Luo et al. 2023, Algorithm 1); the MLP learns only D_φ − D_p = c_out·R_φ. Measured on ring8
 *    it is no better than 'scratch' (benchmarks/README.md: an MLP generator starts far from the teacher,
 *    so the residual is large and sharp), and it still wants `fakeWarmup`.
 */
import { numpy as np, random } from '@jax-js/jax';
import { perSample, precondition, preconditionScalings, type Denoiser, type RawNet } from '../edm/precond.js';
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
 * D(x; σ) = D_base(x; σ) + c_out(σ)·F(c_in(σ)·x; c_noise(σ)) with EDM's c_out, c_in, c_noise
 * (src/edm/precond.ts): a parameter-free base denoiser (an analytic teacher) plus a preconditioned
 * residual network. With F ≡ 0 it is D_base exactly; c_out scales F as `precondition` does, so EDM's loss
 * weight still gives λ(σ)·c_out(σ)² = 1 on F's error. Consumes every array argument.
 */
export function residualDenoiser(base: Denoiser, net: RawNet, { sigmaData }: { sigmaData: number }): Denoiser {
  return (params, x, sigma, labels, opts) => {
    if (sigma.ndim !== 1 || sigma.shape[0] !== x.shape[0]) {
      throw new Error(`denoiser: sigma has shape [${sigma.shape}], expected [${x.shape[0]}] (one σ per sample)`);
    }
    const { cSkip, cOut, cIn, cNoise } = preconditionScalings('edm', sigma.ref, { sigmaData });
    cSkip.dispose();
    const nd = x.ndim;
    const r = net(params, x.ref.mul(perSample(cIn, nd)), cNoise, labels ? labels.ref : null, opts);
    return base({}, x, sigma, labels).add(r.mul(perSample(cOut, nd)));
  };
}

/**
 * Builds the toy teacher, the MLP generator and the fake score (`cfg.fakeInit`, default 'scratch') for
 * `cfg.teacher = 'toy:<name>'` (or a bare `<name>`), with params drawn from `cfg.seed`. One-line errors
 * for an unknown toy or a toy without an exact score.
 */
export function toyModels(
  cfg: Pick<DistillConfig, 'teacher' | 'mlpWidth' | 'mlpDepth' | 'sigmaData' | 'seed'> & Partial<Pick<DistillConfig, 'latentDim' | 'latentStd' | 'fakeInit'>>,
  opts: { latentDim?: number } = {},
): ToyModels {
  const name = cfg.teacher.startsWith('toy:') ? cfg.teacher.slice('toy:'.length) : cfg.teacher;
  const toy = Object.hasOwn(TOYS, name) ? TOYS[name] : undefined;
  if (!toy) throw new Error(`unknown toy teacher 'toy:${name}': expected toy:<${Object.keys(TOYS).join('|')}>`);
  if (!toy.mixture) throw new Error(`toy '${name}' has no exact score (only Gaussian-mixture toys can be teachers): use one of ${TOY_TEACHERS.join(', ')}`);
  const genConfig: MlpGeneratorConfig = { latentDim: opts.latentDim ?? cfg.latentDim ?? 2, dim: 2, hidden: cfg.mlpWidth, layers: cfg.mlpDepth, labelDim: 0, latentStd: cfg.latentStd ?? 1 };
  const fakeConfig: MlpConfig = { dim: 2, hidden: cfg.mlpWidth, layers: cfg.mlpDepth, embChannels: 32, labelDim: 0 };
  const generator = mlpGeneratorModel(genConfig);
  const teacher = toy.mixture.asDenoiser();
  const net: RawNet = (p, x, c, l, o) => mlpNet(fakeConfig, p, x, c, l, o);
  const fromTeacher = (cfg.fakeInit ?? 'scratch') === 'teacher';
  const fake = fromTeacher ? residualDenoiser(teacher, net, { sigmaData: cfg.sigmaData }) : precondition('edm', net, { sigmaData: cfg.sigmaData });
  const [kg, kf] = splitKeyList(random.key(cfg.seed), 2);
  const phi0 = initMlp(kf, fakeConfig);
  if (fromTeacher) {
    // EDM's init_zero is 1e-5·xavier; exactly zero makes D_φ = D_p at step 0 (the gradient still reaches
    // `out.weight` through the last hidden layer, and the layers below from the second step on).
    const w = phi0['out.weight'];
    phi0['out.weight'] = np.zerosLike(w);
  }
  return {
    name,
    mixture: toy.mixture,
    models: { teacher, fake, generator },
    theta0: initMlpGenerator(kg, genConfig),
    phi0,
    genConfig,
    fakeConfig,
    generatorMeta: { format: 'diff-instruct/generator@1', kind: 'generator', generator: 'mlp', generatorConfig: genConfig, teacher: `toy:${name}` },
  };
}
