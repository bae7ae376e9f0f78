/**
 * An MLP generator for low-dimensional data: x = MLP(z), z ~ N(0, latentStd²·I_latentDim). The 2-D
 * student of the toy studies (Diff-Instruct on analytic mixtures, the IKL-vs-KL and SDS experiments) and
 * the browser playground. Layers `layers.<i>` (Linear + SiLU) then `out` (Linear), PyTorch-style names.
 *
 * Why the latent's scale matters: Adam moves every weight by about its learning rate per step, whatever
 * the gradient's size, so how fast the first layer's units can become steep (and the generator can split
 * one connected latent into separate clusters) is set by the scale of z. A wide latent is the MLP's
 * counterpart of the one-step image generator's z ~ N(0, σ_init²) with σ_init = 2.5 (measured on ring8:
 * latentStd 1 stays at ~49 % within 3σ of a mode, 8 reaches ≥ 90 %; benchmarks/README.md).
 */
import { numpy as np, random, tree } from '@jax-js/jax';
import { INIT, initParams, linear, linearSpecs, silu, specShapes, type ParamSpec, type Params } from './layers.js';
import { normalForSeeds } from '../random/seeds.js';
import type { GeneratorModel } from '../distill/generator.js';

export interface MlpGeneratorConfig {
  /** Latent dimension. */
  latentDim: number;
  /** Output dimension. */
  dim: number;
  hidden: number;
  layers: number;
  /** Number of class labels the generator is conditioned on (0: unconditional). */
  labelDim: number;
  /** Standard deviation of the latent, z ~ N(0, latentStd²·I) (absent in older checkpoints: 1). */
  latentStd?: number;
}

export function mlpGeneratorSpecs(cfg: MlpGeneratorConfig): ParamSpec[] {
  if (cfg.latentDim < 1 || cfg.dim < 1 || cfg.hidden < 1 || cfg.layers < 1 || !((cfg.latentStd ?? 1) > 0)) throw new Error(`MLP generator: bad config ${JSON.stringify(cfg)}`);
  const specs: ParamSpec[] = [];
  for (let i = 0; i < cfg.layers; i++) specs.push(...linearSpecs(`layers.${i}`, i === 0 ? cfg.latentDim + cfg.labelDim : cfg.hidden, cfg.hidden, INIT));
  specs.push(...linearSpecs('out', cfg.hidden, cfg.dim, INIT));
  return specs;
}

export const mlpGeneratorShapes = (cfg: MlpGeneratorConfig) => specShapes(mlpGeneratorSpecs(cfg));

/** Consumes `key`. */
export function initMlpGenerator(key: np.Array, cfg: MlpGeneratorConfig): Params {
  return initParams(key, mlpGeneratorSpecs(cfg));
}

/** x = MLP([z, labels]) → [N, dim]. Consumes every array argument. */
export function mlpGenerator(cfg: MlpGeneratorConfig, params: Params, z: np.Array, labels: np.Array | null): np.Array {
  try {
    let h = cfg.labelDim > 0 ? np.concatenate([z, labels ?? np.zeros([z.shape[0], cfg.labelDim])], 1) : z;
    if (cfg.labelDim === 0) labels?.dispose();
    for (let i = 0; i < cfg.layers; i++) h = silu(linear(params, `layers.${i}`, h));
    return linear(params, 'out', h);
  } finally {
    tree.dispose(params);
  }
}

/** The MLP generator as a `GeneratorModel` with the latent z ~ N(0, latentStd²·I). */
export function mlpGeneratorModel(cfg: MlpGeneratorConfig): GeneratorModel {
  mlpGeneratorSpecs(cfg); // validates the config
  const std = cfg.latentStd ?? 1;
  const scale = (z: np.Array) => (std === 1 ? z : z.mul(std));
  return {
    kind: 'mlp',
    latentShape: [cfg.latentDim],
    outputShape: [cfg.dim],
    labelDim: cfg.labelDim,
    sampleLatent: (key, n) => scale(random.normal(key, [n, cfg.latentDim])),
    latentForSeeds: (seeds) => scale(normalForSeeds(seeds, [cfg.latentDim])),
    apply: (params, z, labels, opts) => {
      opts?.key?.dispose();
      return mlpGenerator(cfg, params, z, labels);
    },
  };
}
