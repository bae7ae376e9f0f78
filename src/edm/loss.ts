/**
 * EDM's denoising score-matching loss (Karras et al. 2022, Eq. 8 and Table 1 "Training";
 * NVlabs/edm training/loss.py `EDMLoss`):
 *
 *   ln σ ~ N(P_mean, P_std²),  λ(σ) = (σ² + σd²)/(σ·σd)²,  loss = λ(σ)·‖D(x0 + σε; σ) − x0‖².
 *
 * Returns one value per sample (summed over the sample's elements, as EDM's training loop sums the
 * per-element loss); the trainer averages over the batch and differentiates.
 */
import { numpy as np, random } from '@jax-js/jax';
import type { Denoiser, Params } from './precond.js';
import { perSample } from './precond.js';

export interface EdmLossOptions {
  /** Mean of ln σ (EDM: −1.2). */
  pMean?: number;
  /** Standard deviation of ln σ (EDM: 1.2). */
  pStd?: number;
  /** Data standard deviation σd used by the weight λ(σ) (EDM: 0.5). */
  sigmaData?: number;
}

/** σ = exp(pMean + pStd·n), n ~ N(0, 1): EDM's log-normal training noise levels, [n]. Consumes `key`. */
export function sampleSigmaLogNormal(key: np.Array, n: number, pMean = -1.2, pStd = 1.2): np.Array {
  return np.exp(random.normal(key, [n]).mul(pStd).add(pMean));
}

/** λ(σ) = (σ² + σd²)/(σ·σd)², which gives the denoiser's effective training target unit variance. */
export function edmWeight(sigma: np.Array, sigmaData = 0.5): np.Array {
  const s2 = np.square(sigma);
  return s2.ref.add(sigmaData * sigmaData).div(s2.mul(sigmaData * sigmaData));
}

/**
 * Per-sample EDM loss [N]: λ(σ)·Σ_pixels (D(x0 + σε; σ) − x0)². x0 [N, ...], labels [N, C] or null.
 * Consumes every array argument. Dropout: pass a denoiser that closes over its own key (the loss draws
 * only σ and ε from `key`).
 */
export function edmLoss(denoiser: Denoiser, params: Params, x0: np.Array, labels: np.Array | null, key: np.Array, opts: EdmLossOptions = {}): np.Array {
  const { pMean = -1.2, pStd = 1.2, sigmaData = 0.5 } = opts;
  const n = x0.shape[0];
  const nd = x0.ndim;
  const keys = random.split(key, 2);
  const sigma = sampleSigmaLogNormal(keys.ref.slice(0), n, pMean, pStd);
  const noise = random.normal(keys.slice(1), x0.shape);
  const y = x0.ref.add(noise.mul(perSample(sigma.ref, nd)));
  const D = denoiser(params, y, sigma.ref, labels);
  const sqErr = np.square(D.sub(x0)).reshape([n, -1]).sum(1);
  return edmWeight(sigma, sigmaData).mul(sqErr);
}
