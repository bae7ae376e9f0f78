/**
 * From the one `distill` config (config.ts) to what the math takes: the σ distribution of the generator
 * loss, the loss options and the options of `makeSteps`. Pure (no Node APIs), so the CLI trainer and the
 * browser playground build their steps from the same config the same way.
 */
import type { numpy as np } from '@jax-js/jax';
import { keyForSeed } from '../random/seeds.js';
import { emaBeta } from '../train/ema.js';
import type { DistillConfig } from './config.js';
import type { GeneratorLossOpts } from './losses.js';
import type { SigmaDist } from './sigma.js';
import type { StepOptions } from './steps.js';

/** p(σ) of the generator loss named by `cfg.sigmaDist`, with its parameters. */
export function sigmaDistOf(cfg: DistillConfig): SigmaDist {
  switch (cfg.sigmaDist) {
    case 'lognormal':
      return { kind: 'lognormal', pMean: cfg.pMean, pStd: cfg.pStd };
    case 'loguniform':
      return { kind: 'loguniform', min: cfg.sigmaMin, max: cfg.sigmaMax };
    case 'karras':
      return { kind: 'karras', min: cfg.sigmaMin, max: cfg.sigmaMax, rho: 7, tMin: 0, tMax: cfg.karrasTMax };
    case 'fixed':
      return { kind: 'fixed', value: cfg.sigmaFixed };
  }
}

export function lossOptsOf(cfg: DistillConfig): GeneratorLossOpts {
  return { kind: cfg.loss, weighting: cfg.weighting, sigma: sigmaDistOf(cfg), sidAlpha: cfg.sidAlpha };
}

/** The options of `makeSteps` (both phases share Adam's β1, β2, ε; each net has its own learning rate). */
export function stepOptionsOf(cfg: DistillConfig): StepOptions {
  const adam = (lr: number) => ({ lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps });
  return {
    batch: cfg.batch,
    loss: lossOptsOf(cfg),
    fakeLoss: { pMean: cfg.pMean, pStd: cfg.pStd, sigmaData: cfg.sigmaData },
    adamFake: adam(cfg.lrFake),
    adamGen: adam(cfg.lrGen),
    clipFake: cfg.clipFake,
    clipGen: cfg.clipGen,
    dropout: cfg.dropout,
  };
}

/**
 * The key of step t of phase p (0: fake score, 1: generator): `keyForSeed(t, 2^30 + 4·seed + p)`, a
 * pure function of (seed, t, p), so a resumed run, or a page run with the same config, draws exactly the
 * batches an uninterrupted CLI run would.
 */
export function stepKey(seed: number, step: number, phase: number): np.Array {
  return keyForSeed(step, 2 ** 30 + 4 * (seed % 2 ** 27) + phase);
}

/** Learning-rate factor before generator step s (0-based): the linear ramp-up over `lrRampup` kimg. */
export function lrScaleAt(cfg: DistillConfig, s: number): number {
  return cfg.lrRampup > 0 ? Math.min((s * cfg.batch) / (cfg.lrRampup * 1000), 1) : 1;
}

/** EMA decay β of generator step s (0-based): EDM's half-life in kimg with its ramp-up. */
export function emaBetaAt(cfg: DistillConfig, s: number): number {
  return emaBeta(cfg.batch, cfg.emaHalfLife * 1000, (s + 1) * cfg.batch, cfg.emaRampup);
}
