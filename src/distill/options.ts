/**
 * From the one `distill` config (config.ts) to what the math takes: the σ distribution of the generator
 * loss, the loss options and the options of `makeSteps`. Pure (no Node APIs), so the CLI trainer and the
 * browser playground build their steps from the same config the same way.
 */
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
